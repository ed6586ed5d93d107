"""`turns.Turn` as an iterator of batches: the first batch (in hand) once, then the engine's,
each turn's usage noted on the request's record, failures passed on unchanged."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator

import pytest

from cursor_bridge import access
from cursor_bridge.engine import (
    HostedCall,
    OutputEvent,
    TextDelta,
    TurnFinished,
    TurnStarted,
    Usage,
)
from cursor_bridge.server.turns import Turn, _first_batch

FIRST: list[OutputEvent] = [TurnStarted(7), TextDelta("a")]
LATER: list[list[OutputEvent]] = [[TextDelta("b")], [TurnFinished("stop", Usage(7, 2))]]


async def engine(
    batches: list[list[OutputEvent]], fail: bool = False
) -> AsyncIterator[list[OutputEvent]]:
    for batch in batches:
        yield batch
    if fail:
        raise RuntimeError("upstream broke")


async def collect(turn: Turn) -> list[list[OutputEvent]]:
    return [batch async for batch in turn.batches()]


async def test_the_first_batch_then_the_engines_with_the_usage_noted() -> None:
    record = access.AccessRecord("POST", "/v1/chat/completions", "openai-chat")
    access.start(record)
    turn = Turn(engine(LATER), list(FIRST))
    assert turn.input_tokens == 7
    assert not inspect.isasyncgen(turn.batches()), "no async-generator hooks per turn"
    assert await collect(turn) == [FIRST, *LATER]
    assert (record.input_tokens, record.output_tokens) == (7, 2)
    assert await collect(turn) == [], "each batch is given once"


async def test_an_empty_first_batch_is_not_given() -> None:
    turn = Turn(engine(LATER), [])
    assert await collect(turn) == LATER
    assert turn.input_tokens == 0


async def test_a_failure_reaches_the_reader_after_the_batches_before_it() -> None:
    turn = Turn(engine(LATER[:1], fail=True), list(FIRST))
    seen: list[list[OutputEvent]] = []
    with pytest.raises(RuntimeError, match="upstream broke"):
        async for batch in turn.batches():
            seen.append(batch)
    assert seen == [FIRST, LATER[0]]


async def test_aclose_closes_the_engines_stream() -> None:
    closed: list[bool] = []

    async def stream() -> AsyncIterator[list[OutputEvent]]:
        try:
            yield LATER[0]
            yield LATER[1]
        finally:
            closed.append(True)

    turn = Turn(stream(), list(FIRST))
    iterator = turn.batches()
    assert await iterator.__anext__() == FIRST
    assert await iterator.__anext__() == LATER[0]
    await turn.aclose()
    assert closed == [True]


async def test_the_first_batch_is_the_first_with_output_and_what_came_before() -> None:
    call = HostedCall("c1", "fixture.add {}", "in_progress")
    before: list[list[OutputEvent]] = [[TurnStarted(3)], [call]]
    first = await _first_batch(engine([*before, [call, TextDelta("x")], LATER[1]]))
    assert first == [TurnStarted(3), call, call, TextDelta("x")]


async def test_a_stream_without_output_gives_what_it_held() -> None:
    assert await _first_batch(engine([[TurnStarted(3)]])) == [TurnStarted(3)]
