"""Dialect conformance, Cursor IDE's chat stream: every shared scenario over raw SSE.

`POST /cursor/chat/completions` takes a chat-completions body and always answers with a
stream of `aiserver.v1.StreamUnifiedChatResponse` messages in protobuf JSON, one per SSE
event. Each event is checked on the way: it parses strictly as that message (or, only as
the last event, is an OpenAI error body), thinking runs end with `is_last_thinking_chunk`,
every tool call is a `partial_tool_call` then a `tool_call_v2` with the same id and tool,
the calls of a response are closed by `parallel_tool_calls_complete`, and a stream ends with
`data: [DONE]` unless an error event came. The scenarios' tools are not in Cursor's tool map,
so they arrive as MCP calls; a tool round is answered the way a chat-completions client
would, with the client-facing `name` and `raw_args` of each `tool_call_v2`.

Not expressible here, so not checked: usage (`StreamUnifiedChatResponse` has no usage field)
and whole, non-streamed answers (this endpoint always streams, whatever `stream` says).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from google.protobuf import json_format

from cursor_bridge.protocol.messages import aiserver
from tests.conftest import Stack
from tests.support.conformance import SCENARIOS, Outcome, Scenario, check, result_for

PATH = "/cursor/chat/completions"
MAX_ROUNDS = 5
MCP = aiserver.ClientSideToolV2.CLIENT_SIDE_TOOL_V2_MCP


class StreamFailed(Exception):
    """An error event inside a started stream (the HTTP status was already 200)."""


Event = aiserver.StreamUnifiedChatResponse


def _events(response: httpx.Response) -> list[Event]:
    """The stream's events, each parsed as the dialect documents it; raises on an error event."""
    lines = [line for line in response.iter_lines() if line]
    assert lines, "empty stream"
    assert all(line.startswith("data: ") for line in lines), lines
    data = [line.removeprefix("data: ") for line in lines]
    if data[-1] != "[DONE]":
        error = json.loads(data[-1])
        assert set(error) == {"error"}, f"stream ended without [DONE]: {data[-1]}"
        for earlier in data[:-1]:
            _parse(earlier)
        raise StreamFailed(error["error"]["message"])
    assert "[DONE]" not in data[:-1]
    return [_parse(item) for item in data[:-1]]


def _parse(data: str) -> Event:
    """Strictly (an unknown field or a wrongly typed value fails), one field set per event."""
    event = json_format.ParseDict(json.loads(data), Event())
    assert len(event.ListFields()) == 1, data
    return event


Answer = tuple[str, str, list[aiserver.StreamedBackToolCallV2]]  # text, thinking, calls


def _answer(events: list[Event]) -> Answer:
    """Text, thinking and tool calls of one response, checking the event order on the way."""
    text, thinking = "", ""
    calls: list[aiserver.StreamedBackToolCallV2] = []
    partial: aiserver.StreamedBackPartialToolCall | None = None
    in_thinking = False
    for position, message in enumerate(events):
        ((field, _),) = message.ListFields()
        kind = field.name
        if kind != "thinking":
            assert not in_thinking, "a thinking run must end with is_last_thinking_chunk"
        if kind != "tool_call_v2":
            assert partial is None, "a partial_tool_call must be followed by its tool_call_v2"
        if kind == "text":
            text += message.text
        elif kind == "thinking":
            if message.thinking.is_last_thinking_chunk:
                assert in_thinking and not message.thinking.text
                in_thinking = False
            else:
                assert message.thinking.text
                thinking += message.thinking.text
                in_thinking = True
        elif kind == "partial_tool_call":
            partial = message.partial_tool_call
        elif kind == "tool_call_v2":
            call = message.tool_call_v2
            assert partial is not None, "tool_call_v2 without its partial_tool_call"
            assert (partial.tool_call_id, partial.tool, partial.name, partial.tool_index) == (
                call.tool_call_id,
                call.tool,
                call.name,
                call.tool_index,
            )
            partial = None
            calls.append(call)
        elif kind == "parallel_tool_calls_complete":
            assert message.parallel_tool_calls_complete
            assert calls and position == len(events) - 1, "closes the calls, last"
        else:
            raise AssertionError(f"undocumented event {message}")
    assert not in_thinking and partial is None
    if calls:
        assert events[-1].parallel_tool_calls_complete
    return text, thinking, calls


def _client_call(call: aiserver.StreamedBackToolCallV2) -> tuple[str, dict[str, Any]]:
    """The function call a client sees: unmapped tools come back as MCP with the same name."""
    assert call.tool == MCP and call.WhichOneof("params") == "mcp_params"
    (mcp,) = call.mcp_params.tools
    arguments = json.loads(call.raw_args)
    assert mcp.name == call.name and json.loads(mcp.parameters) == arguments
    assert call.tool_call_id
    return call.name, arguments


def run_scenario(stack: Stack, scenario: Scenario, *, stream_flag: bool = True) -> Outcome:
    """`stream_flag` is the body's `stream`; the answer is a stream either way."""
    outcome = Outcome()
    messages: list[Any] = [{"role": "user", "content": scenario.prompt}]
    request: dict[str, Any] = {"model": scenario.model, "stream": stream_flag}
    if scenario.tools:
        request["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in scenario.tools
        ]
    with httpx.Client(base_url=stack.bridge_url, timeout=20) as http:
        for _ in range(MAX_ROUNDS):
            with http.stream("POST", PATH, json={**request, "messages": messages}) as response:
                if response.status_code != 200:
                    response.read()
                    outcome.error_status = response.status_code
                    outcome.error_message = response.json()["error"]["message"]
                    return outcome
                assert response.headers["content-type"].startswith("text/event-stream")
                try:
                    text, thinking, calls = _answer(_events(response))
                except StreamFailed as exc:
                    outcome.error_message = str(exc)
                    return outcome
            outcome.thinking += thinking
            if not calls:
                outcome.text = text
                return outcome
            assert [c.tool_index for c in calls] == list(range(len(calls)))
            assert len({c.tool_call_id for c in calls}) == len(calls)
            parsed = [_client_call(c) for c in calls]
            outcome.rounds.append(parsed)
            messages.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [
                        {
                            "id": c.tool_call_id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.raw_args},
                        }
                        for c in calls
                    ],
                }
            )
            messages += [
                {"role": "tool", "tool_call_id": c.tool_call_id, "content": result_for(*p)}
                for c, p in zip(calls, parsed, strict=True)
            ]
    raise AssertionError(f"no final answer after {MAX_ROUNDS} rounds")


# `"stream": false` still gets the stream (so `streamed=True` for both): there is no whole
# response in this dialect to check, only that the flag does not change the answer.
@pytest.mark.parametrize("stream_flag", [True, False], ids=["stream", "stream_false"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_cursor_chat_conformance(stack: Stack, scenario: Scenario, stream_flag: bool) -> None:
    check(scenario, run_scenario(stack, scenario, stream_flag=stream_flag), streamed=True)


def test_tool_rounds_continue_the_parked_run(stack: Stack) -> None:
    """Answering with the stream's own ids, names and raw_args keeps the held Run going."""
    multi_round = next(s for s in SCENARIOS if s.name == "multi_round")
    before = stack.backend.tool_rounds["continued"]
    run_scenario(stack, multi_round)
    assert stack.backend.tool_rounds["continued"] == before + len(multi_round.rounds)
