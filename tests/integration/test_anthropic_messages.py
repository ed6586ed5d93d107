"""Anthropic Messages through bridge + emulator, driven by the official anthropic SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic import Anthropic

from cursor_bridge.dialects.anthropic import MessageStream
from tests.conftest import Stack, _stack
from tests.support.polling import wait_for


@pytest.fixture
def client(stack: Stack) -> Anthropic:
    return Anthropic(base_url=stack.bridge_url, api_key="x", max_retries=0, timeout=20)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def raw_events(stack: Stack, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The SSE stream as (event name, data), checking that each name matches its data type."""
    out = []
    with httpx.stream(
        "POST", stack.bridge_url + "/v1/messages", json=payload, timeout=20
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
                assert data["type"] == name
                out.append((name, data))
    return out


def test_create_returns_a_message_with_usage(client: Anthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model="claude-4.6-sonnet", max_tokens=256, messages=user("/reply A whole answer")
    )
    assert raw.headers["request-id"].startswith("req_")
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.model == "claude-4.6-sonnet"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "A whole answer"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens is not None
    assert message.usage.cache_creation_input_tokens is not None


def test_stream_text_and_final_message(paced_stack: Stack) -> None:
    client = Anthropic(base_url=paced_stack.bridge_url, api_key="x", max_retries=0)
    with client.messages.stream(
        model="claude-4.6-sonnet",
        max_tokens=256,
        messages=user("/reply Hello there, streaming world"),
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "Hello there, streaming world"
    assert len(pieces) > 1, "the answer must arrive in several deltas"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


def test_streamed_and_whole_usage_agree(client: Anthropic) -> None:
    """The emulator counts deterministically: the same request costs the same either way."""
    args: dict[str, Any] = {
        "model": "gpt-5.4",
        "max_tokens": 64,
        "messages": user("/reply usage check"),
    }
    whole = client.messages.create(**args)
    with client.messages.stream(**args) as stream:
        streamed = stream.get_final_message()
    assert streamed.usage.input_tokens == whole.usage.input_tokens
    assert streamed.usage.output_tokens == whole.usage.output_tokens


def test_raw_stream_follows_the_documented_sequence(stack: Stack) -> None:
    events = raw_events(
        stack,
        {
            "model": "claude-4.6-sonnet",
            "max_tokens": 128,
            "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": user("/think Weighing options\n/reply one two three"),
        },
    )
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    starts = [d for n, d in events if n == "content_block_start"]
    assert [(d["index"], d["content_block"]["type"]) for d in starts] == [
        (0, "thinking"),
        (1, "text"),
    ]
    kinds = [(d["index"], d["delta"]["type"]) for n, d in events if n == "content_block_delta"]
    thinking_kinds = [k for i, k in kinds if i == 0]
    assert thinking_kinds[-1] == "signature_delta"
    assert set(thinking_kinds[:-1]) == {"thinking_delta"}
    assert {k for i, k in kinds if i == 1} == {"text_delta"}
    stops = [d["index"] for n, d in events if n == "content_block_stop"]
    assert stops == [0, 1]
    usage = events[-2][1]["usage"]
    assert usage["output_tokens"] > 0 and usage["input_tokens"] > 0


def test_thinking_blocks_streamed_and_whole(client: Anthropic) -> None:
    with client.messages.stream(
        model="claude-4.6-opus",
        max_tokens=256,
        thinking={"type": "enabled", "budget_tokens": 20000},
        messages=user("/think Let me consider this\n/reply Done"),
    ) as stream:
        thoughts = [e.thinking for e in stream if e.type == "thinking"]
        final = stream.get_final_message()
    assert "".join(thoughts) == "Let me consider this"
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking == "Let me consider this"
    assert thinking.signature
    assert text.type == "text" and text.text == "Done"
    assert final.usage.output_tokens_details is not None
    assert final.usage.output_tokens_details.thinking_tokens > 0

    whole = client.messages.create(
        model="claude-4.6-opus",
        max_tokens=256,
        thinking={"type": "adaptive"},
        output_config={"effort": "low"},
        messages=user("/think Pondering\n/reply Done"),
    )
    assert [b.type for b in whole.content] == ["thinking", "text"]


def test_no_thinking_blocks_unless_asked(client: Anthropic) -> None:
    message = client.messages.create(
        model="claude-4.6-sonnet", max_tokens=64, messages=user("/think Hidden\n/reply Visible")
    )
    assert [b.type for b in message.content] == ["text"]


def test_omitted_thinking_round_trips_through_the_signature(client: Anthropic) -> None:
    """Claude Code asks for display=omitted and sends the empty block back next turn."""
    first = client.messages.create(
        model="claude-4.6-sonnet",
        max_tokens=64,
        thinking={"type": "adaptive", "display": "omitted"},
        messages=user("/think The secret plan\n/reply Planned"),
    )
    thinking = first.content[0]
    assert thinking.type == "thinking" and thinking.thinking == "" and thinking.signature
    second = client.messages.create(
        model="claude-4.6-sonnet",
        max_tokens=64,
        thinking={"type": "adaptive", "display": "omitted"},
        messages=[
            {"role": "user", "content": "plan something"},
            first.to_param(),
            {"role": "user", "content": "/recall"},
        ],
    )
    recalled = second.content[-1].text  # type: ignore[union-attr]
    # The answer is in the prompt; the reasoning is not: the current client drops it from the
    # root prompt ("Cursor re-derives it", current-client.md §2.2) and keeps it in `turns`.
    assert recalled == "history: user=plan something; assistant=Planned"


def test_system_prompt_history_and_mid_conversation_system_reach_the_backend(
    client: Anthropic,
) -> None:
    message = client.messages.create(
        model="claude-4.6-sonnet",
        max_tokens=256,
        system=[{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Be kind."}],
        messages=[
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": [{"type": "text", "text": "Noted, Ada."}]},
            {"role": "user", "content": [{"type": "text", "text": "/recall"}]},
            {"role": "system", "content": "Environment: test."},  # type: ignore[list-item]
        ],
    )
    recalled = message.content[0].text  # type: ignore[union-attr]
    for fragment in (
        "You are terse.",
        "Be kind.",
        "Environment: test.",
        "My name is Ada.",
        "Noted, Ada.",
    ):
        assert fragment in recalled


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns about old names
@pytest.mark.parametrize(
    "model", ["claude-opus-5-5", "claude-sonnet-4-5-20250929", "claude-haiku-4-5", "opus"]
)
def test_claude_model_names_are_served(client: Anthropic, model: str) -> None:
    message = client.messages.create(
        model=model,
        max_tokens=64,
        thinking={"type": "adaptive"},
        output_config={"effort": "medium"},
        messages=user("/reply mapped"),
    )
    assert message.content[-1].text == "mapped"  # type: ignore[union-attr]
    assert message.model == model


def test_beta_query_and_anthropic_headers_are_accepted(client: Anthropic) -> None:
    message = client.beta.messages.create(
        model="claude-opus-5-5",
        max_tokens=64,
        betas=["interleaved-thinking-2025-05-14", "context-management-2025-06-27"],
        messages=user("/reply beta ok"),
    )
    assert message.content[-1].text == "beta ok"  # type: ignore[union-attr]
    response = httpx.post(
        client.base_url.__str__().rstrip("/") + "/v1/messages?beta=true",
        json={"model": "claude-4.6-sonnet", "max_tokens": 16, "messages": user("/reply hdr")},
        headers={
            "authorization": "Bearer x",
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "claude-code-20250219",
        },
        timeout=20,
    )
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "hdr"


def test_count_tokens_is_a_positive_estimate_that_grows(client: Anthropic) -> None:
    small = client.messages.count_tokens(model="claude-opus-5-5", messages=user("Hello there"))
    bigger = client.messages.count_tokens(
        model="claude-opus-5-5",
        system="You are a careful assistant who answers in full sentences.",
        messages=user("Hello there"),
        tools=[
            {
                "name": "Read",
                "description": "Read a file from disk",
                "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
            }
        ],
    )
    assert 0 < small.input_tokens < bigger.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="no-such-model", messages=user("x"))


def test_unknown_model_is_a_404_not_found_error(client: Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="claude-4.6-sonet", max_tokens=16, messages=user("hi"))
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "claude-4.6-sonnet" in body["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"model": "gpt-5.4", "messages": user("hi")}, "max_tokens"),
        ({"model": "gpt-5.4", "max_tokens": 5, "messages": []}, "messages"),
        (
            {"model": "gpt-5.4", "max_tokens": 5, "messages": [{"role": "x", "content": "hi"}]},
            "role",
        ),
        ({"model": "gpt-5.4", "max_tokens": 5, "messages": user("hi"), "stream": "yes"}, "stream"),
    ],
)
def test_bad_bodies_are_400_invalid_request_error(
    stack: Stack, payload: dict[str, Any], fragment: str
) -> None:
    response = httpx.post(stack.bridge_url + "/v1/messages", json=payload, timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert fragment in body["error"]["message"]
    assert response.headers["request-id"] == body["request_id"]


def test_malformed_json_is_400(stack: Stack) -> None:
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        response = httpx.post(
            stack.bridge_url + path,
            content=b"{not json",
            headers={"content-type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_wrong_method_gets_an_anthropic_shaped_error(stack: Stack) -> None:
    response = httpx.get(stack.bridge_url + "/v1/messages", timeout=10)
    assert response.status_code == 405
    assert response.json()["type"] == "error"


@pytest.mark.parametrize(
    ("code", "status", "exc_type", "error_type"),
    [
        ("unauthenticated", 401, anthropic.AuthenticationError, "authentication_error"),
        ("permission_denied", 403, anthropic.PermissionDeniedError, "permission_error"),
        ("resource_exhausted", 429, anthropic.RateLimitError, "rate_limit_error"),
        ("unavailable", 503, anthropic.InternalServerError, "api_error"),
        ("deadline_exceeded", 504, anthropic.InternalServerError, "timeout_error"),
        ("internal", 502, anthropic.InternalServerError, "api_error"),
    ],
)
def test_backend_errors_map_to_anthropic_statuses(
    client: Anthropic,
    code: str,
    status: int,
    exc_type: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    with pytest.raises(exc_type) as info:
        client.messages.create(
            model="gpt-5.4", max_tokens=16, messages=user(f"/fault error {code} boom")
        )
    assert info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == error_type
    assert "boom" in body["error"]["message"]


def test_error_after_streaming_started_is_an_error_event(client: Anthropic, stack: Stack) -> None:
    prompt = "/reply one two three four five\n/fault error unavailable late"
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        client.messages.stream(model="gpt-5.4", max_tokens=64, messages=user(prompt)) as stream,
    ):
        for _ in stream:
            pass
    assert "late" in str(info.value) and "api_error" in str(info.value)
    events = []
    with httpx.stream(
        "POST",
        stack.bridge_url + "/v1/messages",
        json={"model": "gpt-5.4", "max_tokens": 64, "stream": True, "messages": user(prompt)},
        timeout=20,
    ) as response:
        events = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert events[0] == "event: message_start" and events[-1] == "event: error"
    assert "event: message_stop" not in events


def test_client_disconnect_mid_stream_cancels_the_upstream_run(stack: Stack) -> None:
    cancelled_before = stack.counters.runs_cancelled
    payload = {
        "model": "gpt-5.4",
        "max_tokens": 64,
        "stream": True,
        "messages": user("/reply first words\n/fault stall"),
    }
    with httpx.stream("POST", stack.bridge_url + "/v1/messages", json=payload, timeout=10) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if '"text_delta"' in line and "first" in line:
                break
    # Leaving the block closed the connection mid-stream.
    wait_for(lambda: stack.counters.runs_cancelled > cancelled_before)


def test_stop_sequence_ends_the_answer(client: Anthropic, stack: Stack) -> None:
    message = client.messages.create(
        model="gpt-5.4",
        max_tokens=64,
        stop_sequences=["delta"],
        messages=user("/tokens 5"),
    )
    assert message.content[0].text == "alpha bravo charlie "  # type: ignore[union-attr]
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "delta"
    assert message.usage.output_tokens > 0


def test_images_are_accepted(client: Anthropic) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    message = client.messages.create(
        model="claude-4.6-sonnet",
        max_tokens=32,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": png},
                    },
                    {"type": "text", "text": "/reply seen"},
                ],
            }
        ],
    )
    assert message.content[0].text == "seen"  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def paced_stack() -> Iterator[Stack]:
    """A stack whose emulator streams one word every 10 ms, so each arrives on its own."""
    from cursor_bridge.emulator import EmulatorOptions

    options = EmulatorOptions(heartbeat_interval=0.2, token_latency=0.01)
    yield from _stack(options, heartbeat_interval=0.2)


def test_pings_keep_a_silent_stream_alive(
    paced_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Omitted thinking writes nothing while it lasts; pings fill the gap."""
    monkeypatch.setattr(MessageStream, "keepalive_interval", 0.0)
    events = raw_events(
        paced_stack,
        {
            "model": "claude-4.6-sonnet",
            "max_tokens": 64,
            "stream": True,
            "thinking": {"type": "adaptive", "display": "omitted"},
            "messages": user("/think " + " ".join(f"w{i}" for i in range(20)) + "\n/reply ok"),
        },
    )
    names = [n for n, _ in events]
    assert names.count("ping") >= 3
    thinking_deltas = [
        d["delta"]["type"] for n, d in events if n == "content_block_delta" and d["index"] == 0
    ]
    assert thinking_deltas == ["signature_delta"]


READ_TOOL = {
    "name": "Read",
    "description": "Read a file",
    "input_schema": {
        "type": "object",
        "properties": {"file_path": {"type": "string"}},
        "required": ["file_path"],
    },
}


def test_tool_use_loop(client: Anthropic, stack: Stack) -> None:
    """The emulator calls the client's Read tool; the SDK answers; the emulator quotes it."""
    continued = stack.backend.tool_rounds["continued"]
    messages: list[Any] = user('read it\n/tool Read {"file_path": "/tmp/notes.txt"}')
    first = client.messages.create(
        model="claude-4.6-sonnet", max_tokens=256, tools=[READ_TOOL], messages=messages
    )
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "Read" and call.input == {"file_path": "/tmp/notes.txt"}
    messages += [
        first.to_param(),
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "the notes say 42"}
            ],
        },
    ]
    with client.messages.stream(
        model="claude-4.6-sonnet", max_tokens=256, tools=[READ_TOOL], messages=messages
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "end_turn"
    assert "the notes say 42" in final.content[-1].text  # type: ignore[union-attr]
    assert stack.backend.tool_rounds["continued"] == continued + 1  # same upstream Run


def test_a_streamed_message_has_its_own_request_id_and_the_stream_headers(
    client: Anthropic,
) -> None:
    ids = []
    for _ in range(2):
        raw = client.messages.with_raw_response.create(
            model="claude-4.6-sonnet",
            max_tokens=256,
            messages=user("/reply A whole answer"),
            stream=True,
        )
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["cache-control"] == "no-cache"
        assert raw.headers["x-accel-buffering"] == "no"
        ids.append(raw.headers["request-id"])
        kinds = [event.type for event in raw.parse()]
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert all(i.startswith("req_") for i in ids) and ids[0] != ids[1]
