"""Holding answers to a required tool call or a JSON format (engine/enforce.py), with a
scripted attempt source: what passes, what is asked again, what fails, and the usage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from cursor_bridge.engine.enforce import OutputRejected, enforced
from cursor_bridge.engine.output import (
    OutputEvent,
    TextDelta,
    ToolCall,
    TurnFinished,
    TurnStarted,
    Usage,
)
from cursor_bridge.engine.request import (
    ChatMessage,
    ChatRequest,
    NamedToolChoice,
    OutputFormat,
    ToolSpec,
)

TOOL = ToolSpec("lookup", "", {"type": "object"})
SCHEMA = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}


def request(**options: object) -> ChatRequest:
    return ChatRequest("m", (ChatMessage("user", "hi"),), **options)  # type: ignore[arg-type]


class Attempts:
    """Answers attempt N with the Nth scripted list of batches; records the requests."""

    def __init__(self, *answers: list[list[OutputEvent]]) -> None:
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []

    async def __call__(self, current: ChatRequest) -> AsyncGenerator[list[OutputEvent], None]:
        self.requests.append(current)
        for batch in self.answers[len(self.requests) - 1]:
            yield batch


def run(req: ChatRequest, attempts: Attempts) -> list[list[OutputEvent]]:
    async def collect() -> list[list[OutputEvent]]:
        return [batch async for batch in enforced(req, attempts)]

    return asyncio.run(collect())


def flat(batches: list[list[OutputEvent]]) -> list[OutputEvent]:
    return [e for b in batches for e in b]


def test_a_required_call_flows_through_once_it_arrives() -> None:
    attempts = Attempts(
        [
            [TurnStarted(9), TextDelta("Let me look.")],
            [ToolCall(0, "c1", "lookup", "{}")],
            [TurnFinished("tool_calls", Usage(9, 4))],
        ]
    )
    batches = run(request(tools=(TOOL,), tool_choice="required"), attempts)
    assert flat(batches) == [
        TurnStarted(9),
        TextDelta("Let me look."),
        ToolCall(0, "c1", "lookup", "{}"),
        TurnFinished("tool_calls", Usage(9, 4)),
    ]
    assert len(batches) == 2  # held until the call, then passed on batch by batch


def test_text_instead_of_the_named_call_is_asked_again_and_usage_adds_up() -> None:
    attempts = Attempts(
        [[TurnStarted(9), TextDelta("No."), TurnFinished("stop", Usage(9, 1))]],
        [
            [TurnStarted(12), ToolCall(0, "c1", "lookup", "{}")],
            [TurnFinished("tool_calls", Usage(12, 3))],
        ],
    )
    events = flat(run(request(tools=(TOOL,), tool_choice=NamedToolChoice("lookup")), attempts))
    assert TextDelta("No.") not in events
    assert events[0] == TurnStarted(9)  # the first announcement stands
    assert events[-1] == TurnFinished("tool_calls", Usage(21, 4))
    correction = attempts.requests[1].messages
    assert [m.role for m in correction] == ["user", "assistant", "user"]
    assert correction[1].text == "No." and "`lookup`" in correction[2].text


def test_json_is_validated_and_a_second_failure_is_an_error() -> None:
    bad = [[TextDelta('{"a": "x"}'), TurnFinished("stop", Usage(5, 3))]]
    fmt = OutputFormat("json_schema", SCHEMA)
    with pytest.raises(OutputRejected, match=r"after 2 attempts: .* at a: 'x' is not of type"):
        run(request(output_format=fmt), Attempts(bad, bad))
    good = [[TextDelta('{"a": '), TextDelta("1}"), TurnFinished("stop", Usage(5, 3))]]
    events = flat(run(request(output_format=fmt), Attempts(bad, good)))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == '{"a": 1}'
    assert events[-1] == TurnFinished("stop", Usage(10, 6))


def test_an_answer_cut_by_the_clients_limit_is_returned_as_it_is() -> None:
    cut = [[TextDelta('{"a": '), TurnFinished("length", Usage(5, 2))]]
    events = flat(run(request(output_format=OutputFormat("json_object")), Attempts(cut)))
    assert events == [TextDelta('{"a": '), TurnFinished("length", Usage(5, 2))]
