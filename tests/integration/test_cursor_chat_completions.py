"""`/cursor/chat/completions` over bridge + emulator (the default, own-backend upstream)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.support.polling import wait_for

PATH = "/cursor/chat/completions"


def stream_events(stack: Stack, content: str, model: str = "claude-4.6-sonnet") -> list[Any]:
    payload = {"model": model, "messages": [{"role": "user", "content": content}]}
    return stream_events_for(stack, payload)


def stream_events_for(stack: Stack, payload: dict[str, Any]) -> list[Any]:
    with httpx.stream("POST", stack.bridge_url + PATH, json=payload, timeout=20) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    events: list[Any] = []
    for line in lines:
        assert line.startswith("data: "), line
        data = line.removeprefix("data: ")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_text_streams_as_cursor_text_messages(paced_stack: Stack) -> None:
    events = stream_events(paced_stack, "/reply Hello there, Cursor IDE")
    assert events[-1] == "[DONE]"
    texts = [e["text"] for e in events[:-1]]
    assert "".join(texts) == "Hello there, Cursor IDE"
    assert len(texts) > 1, "the answer must arrive in several chunks"
    assert all(set(e) == {"text"} for e in events[:-1])


def test_thinking_arrives_as_thinking_messages(stack: Stack) -> None:
    events = stream_events(stack, "/think Considering it\n/reply Answer")
    thinking = [e["thinking"] for e in events if isinstance(e, dict) and "thinking" in e]
    assert "".join(t.get("text", "") for t in thinking) == "Considering it"
    assert thinking[-1] == {"is_last_thinking_chunk": True}
    assert "".join(e.get("text", "") for e in events if isinstance(e, dict)) == "Answer"


def test_unknown_model_is_a_404_before_the_stream(stack: Stack) -> None:
    payload = {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(stack.bridge_url + PATH, json=payload, timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (json.dumps({"model": "gpt-5.4", "messages": []}).encode(), 400),
    ],
)
def test_bad_bodies_are_400(stack: Stack, content: bytes, status: int) -> None:
    response = httpx.post(
        stack.bridge_url + PATH,
        content=content,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == status
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("code", "error_type"),
    [("unavailable", "api_error"), ("resource_exhausted", "rate_limit_error")],
)
def test_backend_error_mid_stream_ends_with_an_error_event(
    stack: Stack, code: str, error_type: str
) -> None:
    """The emulator faults after the first text delta, so the 200 stream has begun."""
    events = stream_events(stack, f"/reply one two three four\n/fault error {code} late")
    assert "[DONE]" not in events
    assert events[0] == {"text": "one "}
    error = events[-1]["error"]
    assert "late" in error["message"] and error["type"] == error_type


def test_client_disconnect_cancels_the_upstream_run(stack: Stack) -> None:
    cancelled_before = stack.counters.runs_cancelled
    payload = {
        "model": "gpt-5.4",
        "messages": [{"role": "user", "content": "/reply first words\n/fault stall"}],
    }
    with httpx.stream("POST", stack.bridge_url + PATH, json=payload, timeout=10) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith('data: {"text":'):
                break
    # Leaving the block closed the connection mid-stream.
    wait_for(lambda: stack.counters.runs_cancelled > cancelled_before)


def _tool(name: str, **properties: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {k: {"type": v} for k, v in properties.items()}}
    return {"type": "function", "function": {"name": name, "parameters": schema}}


TOOLS = [_tool("read_file", path="string"), _tool("Shell", command="string")]


def test_tool_round_trip_over_cursor_tool_calls(stack: Stack) -> None:
    """Parallel calls come out as Cursor tool calls; the results continue the same Run."""
    runs = stack.counters.runs_opened
    content = '/tool read_file {"path": "src/app.py"}\n/tool Shell {"command": "ls -la"}'
    messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
    payload = {"model": "claude-4.6-sonnet", "messages": messages, "tools": TOOLS}
    with httpx.stream("POST", stack.bridge_url + PATH, json=payload, timeout=20) as response:
        assert response.status_code == 200
        lines = [line.removeprefix("data: ") for line in response.iter_lines() if line]
    assert lines[-1] == "[DONE]"
    events = [json.loads(line) for line in lines[:-1]]
    partials = [e["partial_tool_call"] for e in events if "partial_tool_call" in e]
    calls = [e["tool_call_v2"] for e in events if "tool_call_v2" in e]
    assert [(p["tool"], p["name"]) for p in partials] == [(5, "read_file"), (15, "Shell")]
    assert [c["tool_call_id"] for c in calls] == [p["tool_call_id"] for p in partials]
    assert calls[0]["read_file_params"] == {
        "relative_workspace_path": "src/app.py",
        "read_entire_file": True,
    }
    assert calls[1]["run_terminal_command_v2_params"] == {
        "command": "ls -la",
        "require_user_approval": True,
    }
    assert events[-1] == {"parallel_tool_calls_complete": True}

    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": c["tool_call_id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["raw_args"]},
                }
                for c in calls
            ],
        }
    )
    messages += [
        {"role": "tool", "tool_call_id": calls[0]["tool_call_id"], "content": "print('hi')"},
        {"role": "tool", "tool_call_id": calls[1]["tool_call_id"], "content": "total 0"},
    ]
    events = stream_events_for(stack, {**payload, "messages": messages})
    text = "".join(e.get("text", "") for e in events if isinstance(e, dict))
    assert text == "Tool results:\n- read_file: print('hi')\n- Shell: total 0"
    assert not any("tool_call_v2" in e for e in events if isinstance(e, dict))
    assert stack.counters.runs_opened == runs + 1, "the second round continued the held Run"
