"""A held-open Run (LiveRun read by its own task) hands over what queued up meanwhile as one
batch, as a direct read hands over the frames that arrived together: a reader that comes
back late (a stream holding its writes, server/pacing.py) catches up in one step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from cursor_bridge.engine.live_run import LiveRun
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.errors import ConnectError


class ScriptedUpstream:
    """The parts of UpstreamRun a LiveRun uses: batches in steps the test releases."""

    def __init__(self, *batches: list[ev.Event], error: ConnectError | None = None) -> None:
        self.machine: Any = None
        self.script = list(batches)
        self.error = error
        self.released = asyncio.Semaphore(0)
        self.sent = 0
        self.finished = asyncio.Event()  # every batch handed over (the error is next)
        self.closed = False

    async def batches(self) -> AsyncGenerator[list[ev.Event], None]:
        for batch in self.script:
            await self.released.acquire()
            self.sent += 1
            yield batch
        self.finished.set()
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        self.closed = True


def text(word: str) -> ev.TextDelta:
    return ev.TextDelta(word)


async def test_batches_queued_while_nobody_reads_come_back_as_one_in_order() -> None:
    upstream = ScriptedUpstream([text("a")], [text("b"), text("c")], [text("d")], [text("e")])
    run = LiveRun(upstream)  # type: ignore[arg-type]
    run.hold_open()
    upstream.released.release()
    assert await run.next_batch() == [text("a")]
    for _ in range(3):  # three reads arrive while the reader is away
        upstream.released.release()
    await upstream.finished.wait()
    assert upstream.sent == 4
    assert await run.next_batch() == [text("b"), text("c"), text("d"), text("e")]
    assert await run.next_batch() is None
    await run.aclose()


async def test_an_error_after_queued_batches_comes_after_them() -> None:
    upstream = ScriptedUpstream([text("a")], [text("b")], error=ConnectError("unavailable", "gone"))
    run = LiveRun(upstream)  # type: ignore[arg-type]
    run.hold_open()
    upstream.released.release()
    upstream.released.release()
    await upstream.finished.wait()
    assert await run.next_batch() == [text("a"), text("b")]
    try:
        await run.next_batch()
    except ConnectError as exc:
        assert exc.message == "gone"
    else:
        raise AssertionError("the Run's error was not raised")
    await run.aclose()


async def test_what_follows_the_turns_end_is_not_joined_to_it() -> None:
    ended = [text("z"), ev.TurnEnded(ev.Usage())]
    upstream = ScriptedUpstream([text("y")], ended, [ev.Checkpoint(b"state", 0, 0)])
    run = LiveRun(upstream)  # type: ignore[arg-type]
    run.hold_open()
    for _ in range(3):
        upstream.released.release()
    await upstream.finished.wait()
    assert await run.next_batch() == [text("y"), *ended]
    assert await run.next_batch() == [ev.Checkpoint(b"state", 0, 0)]
    assert await run.next_batch() is None
    await run.aclose()
