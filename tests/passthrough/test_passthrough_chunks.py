"""OpenAI stream chunks → output events (the pure half of passthrough)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cursor_bridge.engine.output import (
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    TurnFinished,
    Usage,
)
from cursor_bridge.passthrough.chunks import ChunkReader, UpstreamError, error_from_body


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> str:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return json.dumps({"id": "c", "object": "chat.completion.chunk", "choices": [choice], **extra})


def feed_all(reader: ChunkReader, payloads: list[str]) -> list[OutputEvent]:
    out: list[OutputEvent] = []
    for payload in payloads:
        out.extend(reader.feed(payload))
    return out


def test_text_and_reasoning_stream_through_then_finish_with_usage() -> None:
    reader = ChunkReader()
    events = feed_all(
        reader,
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"reasoning_content": "thinking..."}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk(finish="stop"),
            json.dumps(
                {
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 100,
                        "completion_tokens": 20,
                        "prompt_tokens_details": {"cached_tokens": 60},
                        "completion_tokens_details": {"reasoning_tokens": 5},
                    },
                }
            ),
            "[DONE]",
        ],
    )
    assert events == [
        ThinkingDelta("thinking..."),
        TextDelta("Hel"),
        TextDelta("lo"),
        TurnFinished("stop", Usage(40, 20, 60, 0, 5)),
    ]
    assert reader.finished and reader.feed(chunk({"content": "late"})) == []


def test_tool_call_deltas_split_across_chunks_are_assembled() -> None:
    reader = ChunkReader()
    first = {"index": 0, "id": "call_A", "type": "function", "function": {"name": "read_file"}}
    second = {"index": 1, "id": "call_B", "function": {"name": "Shell", "arguments": ""}}
    events = feed_all(
        reader,
        [
            chunk({"tool_calls": [{**first, "function": {**first["function"], "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"pa'}}]}),
            chunk({"tool_calls": [second]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'th": "a.py"}'}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"command":"ls"}'}}]}),
        ],
    )
    assert events == [], "calls are emitted whole, not in pieces"
    events = reader.feed(chunk(finish="tool_calls"))
    assert events == [
        ToolCall(0, "call_A", "read_file", '{"path": "a.py"}'),
        ToolCall(1, "call_B", "Shell", '{"command":"ls"}'),
    ]
    assert reader.end() == [TurnFinished("tool_calls", Usage())]


def test_whole_calls_repeating_index_zero_are_separate_calls() -> None:
    reader = ChunkReader()
    feed_all(
        reader,
        [
            chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "x", "arguments": "{}"}}]}),
            chunk({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "y", "arguments": "{}"}}]}),
        ],
    )  # fmt: skip
    events = reader.feed(chunk(finish="stop")) + reader.feed("[DONE]")
    assert [(e.call_id, e.name, e.index) for e in events if isinstance(e, ToolCall)] == [
        ("a", "x", 0),
        ("b", "y", 1),
    ]
    assert events[-1] == TurnFinished("tool_calls", Usage())


def test_missing_id_and_arguments_get_defaults() -> None:
    reader = ChunkReader()
    reader.feed(chunk({"tool_calls": [{"index": 0, "function": {"name": "glob"}}]}))
    (call, finished) = reader.feed(chunk(finish="tool_calls")) + reader.end()
    assert isinstance(call, ToolCall) and call.call_id.startswith("call_")
    assert call.arguments == "{}"
    assert isinstance(finished, TurnFinished)


def test_length_finish_reason() -> None:
    reader = ChunkReader()
    events = feed_all(reader, [chunk({"content": "abc"}), chunk(finish="length"), "[DONE]"])
    assert events[-1] == TurnFinished("length", Usage())


def test_stream_end_without_done_after_finish_is_fine() -> None:
    reader = ChunkReader()
    feed_all(reader, [chunk({"content": "x"}), chunk(finish="stop")])
    assert reader.end() == [TurnFinished("stop", Usage())]


def test_stream_end_before_finish_is_an_error() -> None:
    reader = ChunkReader()
    reader.feed(chunk({"content": "cut"}))
    with pytest.raises(UpstreamError) as info:
        reader.end()
    assert info.value.status == 502


def test_error_chunk_raises_with_its_status() -> None:
    reader = ChunkReader()
    body = {"error": {"message": "Rate limit reached", "type": "rate_limit", "code": "429"}}
    with pytest.raises(UpstreamError) as info:
        reader.feed(json.dumps(body))
    assert (info.value.status, info.value.message) == (429, "Rate limit reached")


@pytest.mark.parametrize("payload", ["{not json", "[1,2]", '"text"'])
def test_malformed_chunk_raises(payload: str) -> None:
    with pytest.raises(UpstreamError) as info:
        ChunkReader().feed(payload)
    assert info.value.status == 502


@pytest.mark.parametrize(
    ("body", "status", "expected_status", "message"),
    [
        ({"error": {"message": "bad key", "code": "invalid_api_key"}}, 401, 401, "bad key"),
        ({"error": "nope"}, 400, 400, "nope"),
        ({"detail": "Not Found"}, 404, 404, "Not Found"),
        (None, 500, 502, "Internal Server Error"),
        ({"error": {"message": "overloaded"}}, 503, 503, "overloaded"),
        ({"error": {"message": "x", "code": 500}}, 200, 502, "x"),
    ],
)
def test_error_bodies_map_to_client_statuses(
    body: Any, status: int, expected_status: int, message: str
) -> None:
    error = error_from_body(body, status, text="Internal Server Error")
    assert (error.status, error.message) == (expected_status, message)
