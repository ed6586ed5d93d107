"""Rendering engine output as OpenAI Responses stream events and response objects.

Shapes are checked against the official `openai` SDK's types; ordering and index
invariants are checked for arbitrary interleavings of thinking, text and tool calls.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from cursor_bridge.dialects.openai_responses import items_to_messages, parse_request
from cursor_bridge.dialects.openai_responses_render import (
    ResponseBuilder,
    failure_code,
    sse_event,
    usage_body,
)
from cursor_bridge.engine.output import (
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    TurnFinished,
    Usage,
)
from cursor_bridge.engine.request import ChatMessage, ToolCallRecord

STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
USAGE = Usage(
    input_tokens=10,
    output_tokens=5,
    cache_read_tokens=100,
    cache_write_tokens=7,
    reasoning_tokens=3,
)


def builder(summaries: bool = True, **echo: Any) -> ResponseBuilder:
    base = parse_request({"model": "gpt-5.4", "input": "x"}).echo
    return ResponseBuilder("resp_test", "gpt-5.4", {**base, **echo}, summaries=summaries)


def run(
    events: list[OutputEvent], finished: TurnFinished, summaries: bool = True
) -> tuple[ResponseBuilder, list[dict[str, Any]]]:
    b = builder(summaries)
    out = b.start()
    for event in events:
        out += b.feed(event)
    out += b.finish(finished)
    return b, out


def test_usage_counts_cache_as_input_like_openai() -> None:
    assert usage_body(USAGE) == {
        "input_tokens": 117,
        "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 7},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 122,
    }


def test_event_sequence_for_thinking_text_and_a_call() -> None:
    b, events = run(
        [
            ThinkingDelta("Let me "),
            ThinkingDelta("think."),
            TextDelta("Hello "),
            TextDelta("there."),
            ToolCall(0, "call_1", "exec_command", '{"cmd": "ls"}'),
        ],
        TurnFinished("tool_calls", USAGE),
    )
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"] == usage_body(USAGE)
    reasoning, message, call = final["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    assert reasoning["id"].startswith("rs_") and message["id"].startswith("msg_")
    assert message["content"][0]["text"] == "Hello there." and message["status"] == "completed"
    assert call["id"].startswith("fc_")
    assert (call["call_id"], call["name"], call["arguments"], call["status"]) == (
        "call_1",
        "exec_command",
        '{"cmd": "ls"}',
        "completed",
    )
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["output"] == [] and events[0]["response"]["usage"] is None
    sdk = Response.model_validate(final)
    assert sdk.output_text == "Hello there."
    assert b.snapshot() == final


def test_without_summaries_the_reasoning_item_is_empty() -> None:
    _, events = run(
        [ThinkingDelta("secret"), TextDelta("answer")], TurnFinished("stop", USAGE), summaries=False
    )
    types = [e["type"] for e in events]
    assert not any("reasoning_summary" in t for t in types)
    reasoning = events[-1]["response"]["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["summary"] == []
    assert events[-1]["response"]["usage"]["output_tokens_details"]["reasoning_tokens"] == 3


def test_length_finish_is_incomplete_with_the_reason() -> None:
    _, events = run([TextDelta("cut")], TurnFinished("length", USAGE))
    final = events[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["status"] == "incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["response"]["output"][0]["status"] == "incomplete"
    Response.model_validate(final["response"])


def test_namespaced_functions_carry_their_namespace() -> None:
    b = ResponseBuilder(
        "resp_x", "m", {}, summaries=False, namespaces={"close_agent": "multi_agent_v1"}
    )
    events = b.feed(ToolCall(0, "call_1", "close_agent", "{}"))
    assert events[-1]["item"]["namespace"] == "multi_agent_v1"
    assert "namespace" not in b.feed(ToolCall(1, "call_2", "other", "{}"))[-1]["item"]


def test_a_failure_mid_stream_ends_with_error_and_response_failed() -> None:
    b = builder()
    events = b.start() + b.feed(TextDelta("partial"))
    events += b.fail(
        failure_code("unavailable"), "backend went away", error_code="upstream_unavailable"
    )
    error, failed = events[-2:]
    assert error["type"] == "error" and error["code"] == "upstream_unavailable"
    assert error["message"] == "backend went away"
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "backend went away"}
    assert failed["response"]["output"][0]["status"] == "incomplete"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events:
        STREAM_EVENT.validate_python(event)
    assert failure_code("resource_exhausted") == "rate_limit_exceeded"


def test_sse_framing_names_the_event() -> None:
    text = sse_event({"type": "response.output_text.delta", "delta": "é"})
    head, data, blank = text.split("\n", 2)
    assert head == "event: response.output_text.delta"
    assert json.loads(data.removeprefix("data: "))["delta"] == "é"
    assert blank == "\n"


def test_output_items_become_the_same_history_a_client_would_send_back() -> None:
    b, _ = run(
        [
            ThinkingDelta("plan"),
            TextDelta("Running."),
            ToolCall(0, "c1", "f", "{}"),
            ToolCall(1, "c2", "g", '{"a":1}'),
        ],
        TurnFinished("tool_calls", USAGE),
    )
    assert items_to_messages(b.output_items()) == (
        ChatMessage(
            "assistant",
            "Running.",
            tool_calls=(ToolCallRecord("c1", "f", "{}"), ToolCallRecord("c2", "g", '{"a":1}')),
            reasoning="plan",
        ),
    )


# -- invariants over arbitrary output ---------------------------------------------------

_texts = st.text(min_size=0, max_size=6)
_output = st.lists(
    st.one_of(
        st.builds(TextDelta, _texts),
        st.builds(ThinkingDelta, _texts),
        st.tuples(
            st.sampled_from(["f", "g"]), st.dictionaries(st.sampled_from("ab"), st.integers())
        ),
    ),
    max_size=14,
)


def _materialise(raw: list[Any]) -> list[OutputEvent]:
    events: list[OutputEvent] = []
    calls = 0
    for entry in raw:
        if isinstance(entry, tuple):
            events.append(ToolCall(calls, f"call_{calls}", entry[0], json.dumps(entry[1])))
            calls += 1
        else:
            events.append(entry)
    return events


@settings(max_examples=150, deadline=None)
@given(_output, st.sampled_from(["stop", "tool_calls", "length"]), st.booleans())
def test_stream_invariants(raw: list[Any], reason: str, summaries: bool) -> None:
    events_in = _materialise(raw)
    b, events = run(events_in, TurnFinished(reason, USAGE), summaries)  # type: ignore[arg-type]

    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    assert events[-1]["type"] == (
        "response.incomplete" if reason == "length" else "response.completed"
    )
    for event in events:
        STREAM_EVENT.validate_python(event)

    # A strict consumer: items are announced in order, their events come between their
    # added and done, and nothing refers to an item that is not open.
    items: list[dict[str, Any]] = []
    open_index: int | None = None
    part_open = False
    texts: dict[int, str] = {}
    summaries_seen: dict[int, str] = {}
    done_items: list[dict[str, Any]] = []
    for event in events[2:-1]:
        kind = event["type"]
        if kind == "response.output_item.added":
            assert open_index is None
            assert event["output_index"] == len(items)
            items.append(event["item"])
            open_index = event["output_index"]
            continue
        assert event["output_index"] == open_index, kind
        item_id = items[open_index]["id"]
        if "item_id" in event:
            assert event["item_id"] == item_id
        if kind == "response.content_part.added":
            assert not part_open and event["content_index"] == 0
            part_open = True
        elif kind == "response.output_text.delta":
            assert part_open and event["delta"]
            texts[open_index] = texts.get(open_index, "") + event["delta"]
        elif kind == "response.output_text.done":
            assert event["text"] == texts.get(open_index, "")
        elif kind == "response.content_part.done":
            assert part_open and event["part"]["text"] == texts.get(open_index, "")
            part_open = False
        elif kind == "response.reasoning_summary_text.delta":
            assert summaries
            summaries_seen[open_index] = summaries_seen.get(open_index, "") + event["delta"]
        elif kind == "response.reasoning_summary_text.done":
            assert event["text"] == summaries_seen.get(open_index, "")
        elif kind == "response.output_item.done":
            assert not part_open
            assert (
                event["item"]["id"] == item_id
                and event["item"]["type"] == items[open_index]["type"]
            )
            done_items.append(event["item"])
            open_index = None
    assert open_index is None
    final = events[-1]["response"]
    assert final["output"] == done_items
    Response.model_validate(final)

    # The output says what the engine produced, in the same order.
    expected: list[tuple[str, str]] = []
    for event in events_in:
        if isinstance(event, ToolCall):
            expected.append(("function_call", event.arguments))
        elif event.text:
            kind = "message" if isinstance(event, TextDelta) else "reasoning"
            if expected and expected[-1][0] == kind:
                expected[-1] = (kind, expected[-1][1] + event.text)
            else:
                expected.append((kind, event.text))
    rendered: list[tuple[str, str]] = []
    for item in final["output"]:
        if item["type"] == "message":
            rendered.append(("message", item["content"][0]["text"]))
        elif item["type"] == "reasoning":
            rendered.append(("reasoning", item["summary"][0]["text"] if summaries else ""))
        else:
            rendered.append(("function_call", item["arguments"]))
    if not summaries:
        expected = [(k, "" if k == "reasoning" else t) for k, t in expected]
    assert rendered == expected
    calls = [i for i in final["output"] if i["type"] == "function_call"]
    assert [c["call_id"] for c in calls] == [f"call_{n}" for n in range(len(calls))]
    assert b.snapshot() == final


def _counting_ids() -> Any:
    count = iter(range(10**6))
    return lambda prefix: f"{prefix}_{next(count)}"


@settings(max_examples=150, deadline=None)
@given(_output, st.booleans())
def test_encoded_fast_path_matches_the_event_dicts(raw: list[Any], summaries: bool) -> None:
    fast = ResponseBuilder(
        "resp_1", "m", {}, summaries=summaries, created_at=1, item_ids=_counting_ids()
    )
    slow = ResponseBuilder(
        "resp_1", "m", {}, summaries=summaries, created_at=1, item_ids=_counting_ids()
    )
    assert fast.start() == slow.start()
    for event in _materialise(raw):
        assert fast.feed_sse(event) == "".join(map(sse_event, slow.feed(event)))
    finished = TurnFinished("stop", USAGE)
    assert fast.finish(finished)[:-1] == slow.finish(finished)[:-1]
    assert fast.output_items() == slow.output_items()
