"""Holding the model to what the request demands: a structured format, a required tool call.

Both travel to the model as rules, but a model may still answer otherwise, so the engine
checks the answer before it is passed on:

- `response_format` / `text.format` / `output_config.format`: the whole answer is buffered
  (also when streamed: a half-sent invalid JSON text could not be taken back) and validated
  (engine/structured.py);
- `tool_choice` `required` or a named tool: output is held until a tool call arrives (then it
  flows through); a turn that ends in text alone has failed.

A failing answer is not passed on. The conversation continues with the model's answer and
a follow-up user message saying what was wrong, as the conversation's next turn: a new Run
from the backend's checkpoint of the failed turn (Cursor's protocol sends one user message
per Run; there is no documented way to append one to a Run whose turn ended). After
`MAX_RETRIES` corrections the request fails with `OutputRejected`. Usage adds up every
attempt, since every attempt was paid for.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncGenerator, Callable

from ..protocol.errors import ConnectError
from .output import OutputEvent, TextDelta, ToolCall, TurnFinished, TurnStarted, Usage
from .request import ChatMessage, ChatRequest, NamedToolChoice
from .structured import answer_problem, correction

MAX_RETRIES = 1

TurnSource = Callable[[ChatRequest], AsyncGenerator[list[OutputEvent], None]]


class OutputRejected(ConnectError):
    """The model did not produce what the request demanded, even when asked again."""

    def __init__(self, message: str) -> None:
        super().__init__("failed_precondition", message)


def needs_enforcement(request: ChatRequest) -> bool:
    return request.output_format is not None or _call_required(request)


def _call_required(request: ChatRequest) -> bool:
    choice = request.tool_choice
    return bool(request.tools) and (choice == "required" or isinstance(choice, NamedToolChoice))


def tool_demand(request: ChatRequest) -> str:
    if isinstance(request.tool_choice, NamedToolChoice):
        return f"call the tool `{request.tool_choice.name}`"
    return "call one of the provided tools"


async def enforced(
    request: ChatRequest, attempt: TurnSource
) -> AsyncGenerator[list[OutputEvent], None]:
    """The output of `attempt(request)`, held to the request's demands (module docstring)."""
    current = request
    spent = Usage()
    started: TurnStarted | None = None
    for tries in range(MAX_RETRIES + 1):
        held: list[OutputEvent] = []
        passing = False
        finished: TurnFinished | None = None
        async with contextlib.aclosing(attempt(current)) as batches:
            async for batch in batches:
                if passing:
                    yield [_add(e, spent) for e in batch]
                    continue
                for event in batch:
                    if isinstance(event, TurnStarted):
                        started = started or event
                    elif isinstance(event, TurnFinished):
                        finished = event
                    else:
                        held.append(event)
                if (
                    request.output_format is None
                    and finished is None
                    and any(isinstance(e, ToolCall) for e in held)
                ):
                    # The required call came: from here on the output flows through.
                    passing = True
                    yield _lead(started, held)
        if passing:
            return
        assert finished is not None  # attempt() always ends with TurnFinished or raises
        text = "".join(e.text for e in held if isinstance(e, TextDelta))
        problem = _problem(request, finished, text, held)
        if problem is None:
            total = dataclasses.replace(finished, usage=_sum(spent, finished.usage))
            yield [*_lead(started, held), total]
            return
        spent = _sum(spent, finished.usage)
        if tries == MAX_RETRIES:
            raise OutputRejected(
                f"The model's answer did not satisfy the request after {tries + 1} attempts: "
                f"{problem}."
            )
        answer = ChatMessage("assistant", text)
        current = dataclasses.replace(
            current, messages=(*current.messages, answer, ChatMessage("user", correction(problem)))
        )


def _problem(
    request: ChatRequest, finished: TurnFinished, text: str, held: list[OutputEvent]
) -> str | None:
    if finished.reason != "stop" or finished.stop_sequence is not None:
        return None  # cut by the client's own limit or stop sequence: returned as it is
    if request.output_format is not None and not any(isinstance(e, ToolCall) for e in held):
        if _call_required(request):
            return f"you must {tool_demand(request)}"
        return answer_problem(request.output_format, text)
    if _call_required(request) and not any(isinstance(e, ToolCall) for e in held):
        return f"you answered in text, but you must {tool_demand(request)}"
    return None


def _lead(started: TurnStarted | None, events: list[OutputEvent]) -> list[OutputEvent]:
    return [started, *events] if started is not None else list(events)


def _add(event: OutputEvent, spent: Usage) -> OutputEvent:
    if isinstance(event, TurnFinished) and (spent.input_tokens or spent.output_tokens):
        return dataclasses.replace(event, usage=_sum(spent, event.usage))
    return event


def _sum(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cache_read_tokens=a.cache_read_tokens + b.cache_read_tokens,
        cache_write_tokens=a.cache_write_tokens + b.cache_write_tokens,
        reasoning_tokens=a.reasoning_tokens + b.reasoning_tokens,
    )
