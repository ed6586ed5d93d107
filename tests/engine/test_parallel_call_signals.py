"""When a response that makes tool calls may end: on the backend's signal, not a fixed wait.

The SegmentReader reads a fake Run (fake_run.py) that hands out scripted batches and then
goes quiet (never answering again). The settle timer is set to an hour, so a segment only
ends in time when a protocol signal ends it; `asyncio.timeout` turns a missed signal into a
failure instead of a hang.
"""

from __future__ import annotations

import asyncio
import itertools

from fake_run import FakeRun

from cursor_bridge.engine.output import OutputEvent, ToolCall, TurnFinished
from cursor_bridge.engine.request import ToolSpec
from cursor_bridge.engine.sessions import Session
from cursor_bridge.engine.toolset import Toolset
from cursor_bridge.engine.turn import SegmentReader
from cursor_bridge.protocol import events as ev

HOUR = 3600.0
TOOLS = Toolset.build([ToolSpec("read", "Read a file", {"type": "object"})])


def scripted(*batches: list[ev.Event]) -> FakeRun:
    """Hands out `batches` in order, then nothing: a `within` wait times out, an open
    wait blocks (the test's own timeout fails it)."""
    return FakeRun(*batches, used_tokens=0, hang=True)


def call(exec_id: int) -> ev.ExecRequested:
    return ev.ExecRequested(
        exec_id, f"key{exec_id}", "mcp_args", {"path": f"f{exec_id}"}, "", "read"
    )


async def segment(run: FakeRun, settle: float = HOUR) -> list[OutputEvent]:
    ids = itertools.count(1)
    reader = SegmentReader(Session(run), TOOLS, lambda: f"call_{next(ids)}", settle=settle)
    out: list[OutputEvent] = []
    async with asyncio.timeout(5):
        async for batch in reader.read():
            out.extend(batch)
    assert run.answers == []  # no call here is answered by the bridge
    return [*out, *reader.outcome.final]


def tool_names(out: list[OutputEvent]) -> list[str]:
    return [e.call_id for e in out if isinstance(e, ToolCall)]


async def test_step_completed_ends_the_wait_with_every_call_of_the_step() -> None:
    run = scripted([call(1)], [ev.TokenDelta(3), call(2)], [ev.StepCompleted(2)])
    out = await segment(run)
    assert tool_names(out) == ["call_1", "call_2"]
    assert isinstance(out[-1], TurnFinished) and out[-1].reason == "tool_calls"
    assert run.batches == []


async def test_a_step_that_completed_before_the_first_call_does_not_end_it() -> None:
    # A thinking step completes, then the tool step sends two calls and completes.
    run = scripted(
        [ev.ThinkingDelta("hmm"), ev.StepCompleted(1)],
        [call(1)],
        [call(2), ev.StepCompleted(2)],
    )
    out = await segment(run)
    assert tool_names(out) == ["call_1", "call_2"]
    # Within one batch, a boundary seen before the call does not count either.
    run = scripted([ev.StepCompleted(1), call(1)], [call(2)], [ev.StepCompleted(2)])
    assert tool_names(await segment(run)) == ["call_1", "call_2"]


async def test_a_heartbeat_after_a_call_ends_the_wait_one_before_does_not() -> None:
    run = scripted([ev.ServerHeartbeat()], [call(1)], [call(2)], [ev.ServerHeartbeat()])
    out = await segment(run)
    assert tool_names(out) == ["call_1", "call_2"]


async def test_without_a_signal_the_timer_is_the_bounded_fallback() -> None:
    run = scripted([call(1)])
    out = await segment(run, settle=0.05)
    assert tool_names(out) == ["call_1"]
    # An open read for the first call, then the fallback.
    assert run.waits[0] is None and 0 < (run.waits[1] or 0) <= 0.05


async def test_a_trickle_of_other_events_does_not_extend_the_fallback() -> None:
    run = scripted([call(1)], [ev.TokenDelta(1)], [ev.TokenDelta(1)], [ev.TokenDelta(1)])
    await segment(run, settle=0.5)
    bounded = run.waits[1:]
    assert len(bounded) == 4 and all(w is not None for w in bounded)
    # One deadline from the first call: every later read gets what is left of it.
    values = [w for w in bounded if w is not None]
    assert all(b <= a for a, b in itertools.pairwise(values))
    assert values[-1] < values[0] <= 0.5


async def test_text_turn_ignores_step_boundaries() -> None:
    run = scripted(
        [ev.TextDelta("hi"), ev.StepCompleted(1)],
        [ev.TurnEnded(ev.Usage(input_tokens=1, output_tokens=1))],
    )
    out = await segment(run)
    assert [type(e) for e in out] == [ev.TextDelta, TurnFinished]
