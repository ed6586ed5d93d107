"""Anthropic Messages rendering: content blocks, the SSE event sequence, stop sequences, errors.

Every streamed event is validated against the official SDK's event types, so a shape that
Anthropic's clients would not parse fails here.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from anthropic.types import Message, RawMessageStreamEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from cursor_bridge.dialects import anthropic_render as render
from cursor_bridge.dialects.anthropic import MessageStream
from cursor_bridge.dialects.anthropic_messages import parse_request
from cursor_bridge.engine.output import (
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    TurnFinished,
    Usage,
)

FAST = settings(max_examples=150, deadline=None)
EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs; checks the framing and that name == data.type."""
    out = []
    for chunk in text.split("\n\n"):
        if not chunk:
            continue
        name_line, data_line = chunk.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        name, data = name_line[len("event: ") :], json.loads(data_line[len("data: ") :])
        assert data["type"] == name
        out.append((name, data))
    return out


def stream(
    events: list[OutputEvent], thinking: render.ThinkingDisplay = "summarized"
) -> list[tuple[str, dict[str, Any]]]:
    """Render a whole response the way the streaming route does."""
    assembler = render.MessageAssembler(thinking)
    finished = TurnFinished("stop", Usage())
    text = render.message_start("msg_1", "claude-opus-5-5", 12) + render.ping()
    for event in events:
        if isinstance(event, TurnFinished):
            finished = event
        else:
            text += render.block_events(assembler.feed(event))
    text += render.block_events(assembler.finish())
    reason = render.stop_reason(finished.reason, finished.stop_sequence)
    text += render.message_end(reason, finished.stop_sequence, finished.usage)
    parsed = parse_sse(text)
    for _, data in parsed:
        if data["type"] != "ping":
            EVENTS.validate_python(data)
    return parsed


def whole(events: list[OutputEvent], thinking: render.ThinkingDisplay = "summarized") -> Message:
    assembler = render.MessageAssembler(thinking, keep_content=True)
    finished = TurnFinished("stop", Usage())
    for event in events:
        if isinstance(event, TurnFinished):
            finished = event
        else:
            assembler.feed(event)
    assembler.finish()
    body = render.message_body(
        "msg_1", "m", assembler.content, finished.usage, render.stop_reason(finished.reason, None)
    )
    return Message.model_validate(body)


def test_text_stream_has_the_documented_event_sequence() -> None:
    usage = Usage(input_tokens=7, output_tokens=3, cache_read_tokens=2, cache_write_tokens=1)
    events = stream([TextDelta("Hel"), TextDelta("lo"), TurnFinished("stop", usage)])
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["role"] == "assistant"
    assert start["usage"]["input_tokens"] == 12
    assert events[2][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": "", "citations": None},
    }
    assert events[3][1]["delta"] == {"type": "text_delta", "text": "Hel"}
    delta = events[6][1]
    assert delta["delta"] == {
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "stop_details": None,
        "container": None,
    }
    assert delta["usage"] == {
        "input_tokens": 7,
        "output_tokens": 3,
        "cache_read_input_tokens": 2,
        "cache_creation_input_tokens": 1,
        "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": 0},
        "output_tokens_details": {"thinking_tokens": 0},
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
        "service_tier": "standard",
        "inference_geo": None,
    }


def test_thinking_text_and_parallel_tool_calls_get_consecutive_indices() -> None:
    events = stream(
        [
            ThinkingDelta("Let me "),
            ThinkingDelta("think."),
            TextDelta("Reading both."),
            ToolCall(0, "toolu_a", "Read", '{"file_path": "a.txt"}'),
            ToolCall(1, "toolu_b", "Read", '{"file_path": "b.txt"}'),
            TurnFinished("tool_calls", Usage(output_tokens=9, reasoning_tokens=2)),
        ]
    )
    blocks = [(n, d) for n, d in events if n.startswith("content_block")]
    starts = [d for n, d in blocks if n == "content_block_start"]
    assert [(d["index"], d["content_block"]["type"]) for d in starts] == [
        (0, "thinking"),
        (1, "text"),
        (2, "tool_use"),
        (3, "tool_use"),
    ]
    # Every block is started, then only deltas of its own index, then stopped, in order.
    open_index = None
    for name, data in blocks:
        if name == "content_block_start":
            assert open_index is None
            open_index = data["index"]
        elif name == "content_block_delta":
            assert data["index"] == open_index
        else:
            assert data["index"] == open_index
            open_index = None
    thinking = [d["delta"] for n, d in blocks if n == "content_block_delta" and d["index"] == 0]
    assert [d["type"] for d in thinking] == ["thinking_delta", "thinking_delta", "signature_delta"]
    assert thinking[-1]["signature"]
    tool_start = starts[2]["content_block"]
    assert tool_start == {
        "type": "tool_use",
        "id": "toolu_a",
        "name": "Read",
        "input": {},
        "caller": {"type": "direct"},
    }
    json_deltas = [d["delta"] for n, d in blocks if n == "content_block_delta" and d["index"] == 2]
    assert json_deltas == [{"type": "input_json_delta", "partial_json": '{"file_path": "a.txt"}'}]
    end = events[-2][1]
    assert end["delta"]["stop_reason"] == "tool_use"
    assert end["usage"]["output_tokens_details"] == {"thinking_tokens": 2}


def test_whole_message_has_parsed_tool_input_and_the_same_blocks() -> None:
    message = whole(
        [
            ThinkingDelta("Hmm."),
            TextDelta("Calling."),
            ToolCall(0, "toolu_a", "Bash", '{"command": "ls", "timeout": 5}'),
            TurnFinished("tool_calls", Usage(input_tokens=3, output_tokens=4)),
        ]
    )
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = message.content
    assert thinking.type == "thinking" and thinking.thinking == "Hmm." and thinking.signature
    assert text.type == "text" and text.text == "Calling."
    assert tool.type == "tool_use" and tool.input == {"command": "ls", "timeout": 5}
    assert message.stop_reason == "tool_use"
    assert message.usage.input_tokens == 3 and message.usage.output_tokens == 4


def test_omitted_thinking_streams_no_text_but_the_signature_keeps_it() -> None:
    events = stream([ThinkingDelta("secret "), ThinkingDelta("plan"), TextDelta("ok")], "omitted")
    deltas = [d["delta"] for n, d in events if n == "content_block_delta" and d["index"] == 0]
    assert [d["type"] for d in deltas] == ["signature_delta"]
    assert render.reasoning_from_signature(deltas[0]["signature"]) == "secret plan"
    message = whole([ThinkingDelta("secret plan"), TextDelta("ok")], "omitted")
    block = message.content[0]
    assert block.type == "thinking" and block.thinking == ""
    assert render.reasoning_from_signature(block.signature) == "secret plan"


def test_thinking_is_dropped_when_the_client_did_not_ask_for_it() -> None:
    events = stream([ThinkingDelta("hidden"), TextDelta("answer")], "off")
    starts = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert starts == ["text"]


def test_interleaved_thinking_opens_new_blocks() -> None:
    message = whole([ThinkingDelta("a"), TextDelta("b"), ThinkingDelta("c"), TextDelta("d")])
    assert [b.type for b in message.content] == ["thinking", "text", "thinking", "text"]


def test_empty_answer_has_no_blocks() -> None:
    events = stream([TurnFinished("length", Usage())])
    assert [n for n, _ in events] == ["message_start", "ping", "message_delta", "message_stop"]
    assert events[2][1]["delta"]["stop_reason"] == "max_tokens"


@FAST
@given(st.lists(st.text(min_size=1), min_size=1, max_size=12))
def test_any_text_split_yields_the_same_concatenated_deltas(parts: list[str]) -> None:
    events = stream([TextDelta(p) for p in parts])
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "".join(parts)
    assert sum(1 for n, _ in events if n == "content_block_start") == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (409, "invalid_request_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_types_by_status(status: int, kind: str) -> None:
    assert render.error_type(status) == kind


def test_error_shapes() -> None:
    assert render.error_body("not_found_error", "gone", "req_1") == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "gone"},
        "request_id": "req_1",
    }
    ((name, data),) = parse_sse(render.error_event("overloaded_error", "busy"))
    assert name == "error" and data["error"] == {"type": "overloaded_error", "message": "busy"}


def test_a_text_delta_event_is_what_block_events_writes() -> None:
    for text in ["a", 'quote " and \\ back', "héllo 日本 \n\t", "\u2028 </script>"]:
        op = render.BlockOp("delta", 3, {"type": "text_delta", "text": text})
        assert render.text_delta_event(3, text) == render.block_events([op])


batch_events = st.lists(
    st.lists(
        st.one_of(
            st.text(max_size=6).map(TextDelta),
            st.text(min_size=1, max_size=6).map(ThinkingDelta),
            st.integers(0, 3).map(lambda i: ToolCall(i, f"call_{i}", "f", "{}")),
        ),
        max_size=5,
    ),
    max_size=8,
)


@FAST
@given(batch_events, st.sampled_from(["summarized", "omitted", "off"]))
def test_the_streaming_route_writes_what_the_block_operations_give(
    batches: list[list[OutputEvent]], thinking: render.ThinkingDisplay
) -> None:
    # MessageStream writes a continued text block's deltas directly: same bytes, same order.
    parsed = parse_request(
        {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    )
    parsed = dataclasses.replace(parsed, thinking=thinking)
    route = MessageStream(parsed, 0)
    reference = render.MessageAssembler(thinking)
    for batch in batches:
        expected = "".join(render.block_events(reference.feed(event)) for event in batch)
        assert route.batch(batch) == expected
    assert route.assembler.finish() == reference.finish()
