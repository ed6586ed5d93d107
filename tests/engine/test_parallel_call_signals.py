"""When a response that makes tool calls may end: on the backend's signal, not a fixed wait.

The SegmentReader reads a fake Run that hands out scripted batches and then goes quiet
(never answering again). The settle timer is set to an hour, so a segment only ends in
time when a protocol signal ends it; `asyncio.timeout` turns a missed signal into a
failure instead of a hang.
"""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace
from typing import Any

from cursor_bridge.engine.output import OutputEvent, ToolCall, TurnFinished
from cursor_bridge.engine.request import ToolSpec
from cursor_bridge.engine.toolset import Toolset
from cursor_bridge.engine.turn import SegmentReader
from cursor_bridge.protocol import events as ev

HOUR = 3600.0
TOOLS = Toolset.build([ToolSpec("read", "Read a file", {"type": "object"})])


class ScriptedRun:
    """Hands out `batches` in order, then nothing: a `within` wait times out, an open
    wait blocks (the test's own timeout fails it)."""

    def __init__(self, *batches: list[ev.Event]) -> None:
        self.batches = list(batches)
        self.waits: list[float | None] = []
        self.upstream = SimpleNamespace(machine=SimpleNamespace(used_tokens=0))

    async def next_batch(self, within: float | None = None) -> list[ev.Event] | None:
        self.waits.append(within)
        if self.batches:
            return self.batches.pop(0)
        await asyncio.wait_for(asyncio.get_running_loop().create_future(), within)
        return None

    async def send_results(self, answers: Any) -> None:
        raise AssertionError("no call here should be answered by the bridge")


def call(exec_id: int) -> ev.ExecRequested:
    return ev.ExecRequested(
        exec_id, f"key{exec_id}", "mcp_args", {"path": f"f{exec_id}"}, "", "read"
    )


async def segment(run: ScriptedRun, settle: float = HOUR) -> list[OutputEvent]:
    ids = itertools.count(1)
    reader = SegmentReader(run, TOOLS, lambda: f"call_{next(ids)}", settle=settle)  # type: ignore[arg-type]
    out: list[OutputEvent] = []
    async with asyncio.timeout(5):
        async for batch in reader.read():
            out.extend(batch)
    return out


def tool_names(out: list[OutputEvent]) -> list[str]:
    return [e.call_id for e in out if isinstance(e, ToolCall)]


async def test_step_completed_ends_the_wait_with_every_call_of_the_step() -> None:
    run = ScriptedRun([call(1)], [ev.TokenDelta(3), call(2)], [ev.StepCompleted(2)])
    out = await segment(run)
    assert tool_names(out) == ["call_1", "call_2"]
    assert isinstance(out[-1], TurnFinished) and out[-1].reason == "tool_calls"
    assert run.batches == []


async def test_a_step_that_completed_before_the_first_call_does_not_end_it() -> None:
    # A thinking step completes, then the tool step sends two calls and completes.
    run = ScriptedRun(
        [ev.ThinkingDelta("hmm"), ev.StepCompleted(1)],
        [call(1)],
        [call(2), ev.StepCompleted(2)],
    )
    out = await segment(run)
    assert tool_names(out) == ["call_1", "call_2"]
    # Within one batch, a boundary seen before the call does not count either.
    run = ScriptedRun([ev.StepCompleted(1), call(1)], [call(2)], [ev.StepCompleted(2)])
    assert tool_names(await segment(run)) == ["call_1", "call_2"]


async def test_a_heartbeat_after_a_call_ends_the_wait_one_before_does_not() -> None:
    run = ScriptedRun([ev.ServerHeartbeat()], [call(1)], [call(2)], [ev.ServerHeartbeat()])
    out = await segment(run)
    assert tool_names(out) == ["call_1", "call_2"]


async def test_without_a_signal_the_timer_is_the_bounded_fallback() -> None:
    run = ScriptedRun([call(1)])
    out = await segment(run, settle=0.05)
    assert tool_names(out) == ["call_1"]
    # An open read for the first call, then the fallback.
    assert run.waits[0] is None and 0 < (run.waits[1] or 0) <= 0.05


async def test_a_trickle_of_other_events_does_not_extend_the_fallback() -> None:
    run = ScriptedRun([call(1)], [ev.TokenDelta(1)], [ev.TokenDelta(1)], [ev.TokenDelta(1)])
    await segment(run, settle=0.5)
    bounded = run.waits[1:]
    assert len(bounded) == 4 and all(w is not None for w in bounded)
    # One deadline from the first call: every later read gets what is left of it.
    values = [w for w in bounded if w is not None]
    assert all(b <= a for a, b in itertools.pairwise(values))
    assert values[-1] < values[0] <= 0.5


async def test_text_turn_ignores_step_boundaries() -> None:
    run = ScriptedRun(
        [ev.TextDelta("hi"), ev.StepCompleted(1)],
        [ev.TurnEnded(ev.Usage(input_tokens=1, output_tokens=1))],
    )
    out = await segment(run)
    assert [type(e) for e in out] == [ev.TextDelta, TurnFinished]
