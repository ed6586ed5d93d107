"""Hosted MCP tools end to end: client -> bridge -> emulator, whose scripted model calls them.

The emulator's model names a hosted tool as configured (`/tool SERVER.TOOL {json}`) and
resolves it through the MCP descriptors in the request context to its wire name; the bridge
runs the call itself and the turn carries on in the same Run. The client sees only the
answer (or, with `x-cursor-bridge-mcp: show`, the call as reasoning).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest
from openai import OpenAI

from cursor_bridge.mcp_host.config import ServerConfig
from cursor_bridge.mcp_host.host import McpHost
from tests.conftest import Stack
from tests.mcp_host.fixtures import http_server, stdio_config
from tests.support.polling import wait_for


@pytest.fixture(scope="module")
def hosted(stack: Stack) -> Iterator[McpHost]:
    with http_server() as url:
        host = McpHost(
            [stdio_config("fixture", timeout=3.0), ServerConfig("web docs", "http", url=url)],
            backoff_base=0.05,
        )
        stack.call(host.start(wait=20))
        stack.backend.config.hosted = host
        try:
            yield host
        finally:
            stack.backend.config.hosted = None
            stack.call(host.aclose())


def client(stack: Stack, mode: str | None = None) -> OpenAI:
    headers = {"x-cursor-bridge-mcp": mode} if mode else None
    return OpenAI(
        base_url=stack.bridge_url + "/v1",
        api_key="x",
        max_retries=0,
        timeout=30,
        default_headers=headers,
    )


def ask(stack: Stack, text: str, mode: str | None = None) -> str:
    response = client(stack, mode).chat.completions.create(
        model="gpt-5.4", messages=[{"role": "user", "content": text}]
    )
    choice = response.choices[0]
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    return choice.message.content or ""


def test_hosted_tool_runs_inside_the_run(stack: Stack, hosted: McpHost) -> None:
    runs = stack.backend.runs_opened
    calls = hosted.connections["fixture"].calls
    answer = ask(stack, '/tool fixture.add {"a": 20, "b": 22}')
    assert answer == "Tool results:\n- fixture.add: 42"
    assert stack.backend.runs_opened == runs + 1  # one Run: no client round trip
    assert hosted.connections["fixture"].calls == calls + 1


def test_streamable_http_server_and_a_sanitised_name(stack: Stack, hosted: McpHost) -> None:
    answer = ask(
        stack,
        '/tool web docs.add {"a": 1, "b": 2}\n/tool fixture.weird.name/with spaces {"text": "yo"}',
    )
    assert answer == (
        "Tool results:\n- web docs.add: 3\n- fixture.weird.name/with spaces: weird says yo"
    )


def test_tool_error_and_timeout_reach_the_model(stack: Stack, hosted: McpHost) -> None:
    failures = hosted.connections["fixture"].failures
    answer = ask(stack, "/tool fixture.fail {}\n/tool fixture.hang {}")
    lines = answer.splitlines()
    assert lines[1].startswith("- fixture.fail: error: ") and "failed on purpose" in lines[1]
    assert lines[2].startswith('- fixture.hang: error {"error":') and "did not answer" in lines[2]
    assert hosted.connections["fixture"].failures == failures + 2


def test_crash_then_reconnect(stack: Stack, hosted: McpHost) -> None:
    connection = hosted.connections["fixture"]
    before = connection.connects
    answer = ask(stack, "/tool fixture.crash {}")
    assert "closed the connection" in answer

    def reconnected() -> bool:
        return connection.connects > before and connection.status == "ready"

    wait_for(reconnected, 20)
    assert ask(stack, '/tool fixture.add {"a": 2, "b": 2}').endswith("fixture.add: 4")


def test_client_tools_and_hosted_tools_in_one_turn(stack: Stack, hosted: McpHost) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up.",
                "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
            },
        }
    ]
    messages: list[dict[str, object]] = [
        {
            "role": "user",
            "content": '/tool fixture.add {"a": 5, "b": 6}\n/tool lookup {"word": "x"}',
        }
    ]
    first = client(stack).chat.completions.create(model="gpt-5.4", messages=messages, tools=tools)  # type: ignore[arg-type]
    (call,) = first.choices[0].message.tool_calls or []
    assert call.function.name == "lookup"  # the hosted call never reaches the client
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "a letter"},
    ]
    second = client(stack).chat.completions.create(model="gpt-5.4", messages=messages, tools=tools)  # type: ignore[arg-type]
    assert second.choices[0].message.content == (
        "Tool results:\n- fixture.add: 11\n- lookup: a letter"
    )


def test_show_mode_reports_calls_as_reasoning(stack: Stack, hosted: McpHost) -> None:
    stream = client(stack, "show").chat.completions.create(
        model="gpt-5.4",
        messages=[{"role": "user", "content": '/tool fixture.add {"a": 1, "b": 1}'}],
        stream=True,
    )
    reasoning = content = ""
    for chunk in stream:
        delta = chunk.choices[0].delta if chunk.choices else None
        if delta is not None:
            reasoning += getattr(delta, "reasoning_content", None) or ""
            content += delta.content or ""
    assert reasoning == (
        '[mcp] fixture.add {"a":1,"b":1}\n[mcp] fixture.add {"a":1,"b":1} -> ok: 2\n'
    )
    assert content == "Tool results:\n- fixture.add: 2"


def test_show_mode_in_anthropic_messages_is_a_thinking_block(stack: Stack, hosted: McpHost) -> None:
    api = anthropic.Anthropic(
        base_url=stack.bridge_url,
        api_key="x",
        max_retries=0,
        default_headers={"x-cursor-bridge-mcp": "show"},
    )
    # Anthropic clients get thinking blocks only when they enable thinking.
    message = api.messages.create(
        model="claude-4.6-sonnet",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": '/tool fixture.add {"a": 3, "b": 4}'}],
    )
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text"]
    assert "[mcp] fixture.add" in message.content[0].thinking  # type: ignore[union-attr]
    assert message.content[1].text == "Tool results:\n- fixture.add: 7"  # type: ignore[union-attr]


def test_opt_out_header_hides_hosted_tools(stack: Stack, hosted: McpHost) -> None:
    answer = ask(stack, '/tool fixture.add {"a": 1, "b": 1}', mode="off")
    # The model sees no such tool: its call is refused, nothing runs on the server.
    assert answer.startswith("Tool results:\n- fixture.add: error ")
    assert "not available" in answer


def test_bad_opt_out_header_is_a_400(stack: Stack, hosted: McpHost) -> None:
    response = httpx.post(
        stack.bridge_url + "/v1/messages",
        headers={"x-cursor-bridge-mcp": "maybe", "anthropic-version": "2023-06-01"},
        json={
            "model": "claude-4.6-sonnet",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert "x-cursor-bridge-mcp" in response.json()["error"]["message"]


def test_mcp_state_probe_and_resources(stack: Stack, hosted: McpHost) -> None:
    answer = ask(
        stack,
        "/exec mcp-state {}\n/exec list-mcp-resources {}\n"
        + "/exec read-mcp-resource "
        + json.dumps({"server": "web docs", "uri": "memo://hello"}),
    )
    state, listing, read = answer.splitlines()[1:]
    assert '"serverName":"fixture"' in state and '"serverName":"web docs"' in state
    assert '"uri":"memo://hello"' in listing
    assert "hello from a resource" in read


def test_metrics_count_calls_and_failures_per_server(stack: Stack, hosted: McpHost) -> None:
    ask(stack, '/tool fixture.add {"a": 1, "b": 1}\n/tool fixture.fail {}')
    text = httpx.get(stack.bridge_url + "/metrics").text
    fixture = hosted.connections["fixture"]
    assert f'cursor_bridge_mcp_calls_total{{server="fixture"}} {fixture.calls:.1f}' in text
    assert (
        f'cursor_bridge_mcp_call_failures_total{{server="fixture"}} {fixture.failures:.1f}' in text
    )
    assert 'cursor_bridge_mcp_server_up{server="web docs"} 1.0' in text


def test_show_mode_in_responses_is_a_reasoning_item(stack: Stack, hosted: McpHost) -> None:
    # Responses renders reasoning text only when the client asks for summaries.
    response = client(stack, "show").responses.create(
        model="gpt-5.4",
        input='/tool fixture.add {"a": 2, "b": 5}',
        reasoning={"summary": "auto"},
    )
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "message"]
    reasoning = response.output[0].model_dump_json()
    assert "[mcp] fixture.add" in reasoning and "ok: 7" in reasoning
    assert response.output_text == "Tool results:\n- fixture.add: 7"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "gpt-5.4", "stream": True}),
        ("/v1/responses", {"model": "gpt-5.4", "stream": True}),
    ],
)
def test_progress_keeps_the_client_stream_alive(
    stack: Stack, hosted: McpHost, path: str, body: dict[str, object]
) -> None:
    """A hosted call's progress notifications become SSE comments while the client waits."""
    prompt = '/tool fixture.slow {"steps": 8}'
    payload = dict(body)
    if path == "/v1/responses":
        payload["input"] = prompt
    else:
        payload["messages"] = [{"role": "user", "content": prompt}]
    with httpx.stream("POST", stack.bridge_url + path, json=payload, timeout=30) as response:
        raw = "".join(response.iter_text())
    answer_at = raw.index("done")  # the answer quotes "slow done after 8 steps"
    keep_alives = [i for i in range(len(raw)) if raw.startswith(": keep-alive\n\n", i)]
    assert keep_alives, raw[:2000]
    assert all(i < answer_at for i in keep_alives)  # only while the call ran


def test_client_disconnect_cancels_the_hosted_call(stack: Stack, tmp_path: Path) -> None:
    """The client goes away while a hosted call runs: the call is cancelled on the MCP server
    (its own timeout, 60 s, is far off), and so is the upstream Run."""
    slow_host = McpHost([stdio_config("slowpoke", timeout=60.0)])
    stack.call(slow_host.start(wait=20))
    saved, stack.backend.config.hosted = stack.backend.config.hosted, slow_host
    marker = tmp_path / "marker.txt"
    try:
        cancelled_before = stack.counters.runs_cancelled
        prompt = "/tool slowpoke.hang_marked " + json.dumps({"path": str(marker)})
        body = json.dumps(
            {"model": "gpt-5.4", "stream": True, "messages": [{"role": "user", "content": prompt}]}
        ).encode()
        host, port = stack.bridge_url.removeprefix("http://").split(":")
        # A raw socket: the bridge answers only once output exists, so no HTTP client would
        # give control back before the hosted call ends.
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            head = (
                "POST /v1/chat/completions HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + body)
            wait_for(lambda: marker.exists() and marker.read_text() == "started", 20)
        # The connection is closed: the bridge notices and cancels everything below it.
        wait_for(lambda: marker.read_text() == "cancelled", 20)
        wait_for(lambda: stack.counters.runs_cancelled > cancelled_before, 20)
    finally:
        stack.backend.config.hosted = saved
        stack.call(slow_host.aclose())
