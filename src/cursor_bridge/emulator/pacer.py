"""One timer for the paced words of every Run of a server.

A task that sleeps `token_latency` between words costs, per word of every stream, a timer
and a task wake-up through the turn player's coroutine chain. The `Pacer` keeps the due
words of all Runs in one heap under one timer and queues each stream's next word (bytes
encoded beforehand, see words.py) when it is due; each stream keeps its own pace: its next
word is due `interval` after its previous one went out, as after a sleep.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .connection import HIGH_WATER, StreamGone

if TYPE_CHECKING:
    from .run import RunSession

ENDED = -1
"""What `Pacer.play`'s future gives when the Run ended or its stream is gone."""


@dataclass(slots=True, eq=False)
class _Paced:
    """One Run's stretch of words in flight: `frames[next]` goes out at its due time."""

    session: RunSession
    frames: list[bytes]
    next: int
    per_word: int
    interval: float
    future: asyncio.Future[int]


@dataclass(slots=True)
class Pacer:
    """Writes every Run's due words from one timer (per server, on its event loop).

    `play` queues `frames[start]` now and the next ones `interval` apart (each item: one
    word's frames, `per_word` of them); its future gives the index reached: the end, or
    less when the stream's send buffer went over its high-water mark (the task then waits
    for it to drain, as a blocking write would, and plays on), or `ENDED` when the Run
    ended or its stream is gone.
    """

    _due: list[tuple[float, int, _Paced]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    _timer: asyncio.TimerHandle | None = None
    _timer_at: float = 0.0

    def play(
        self, session: RunSession, frames: list[bytes], start: int, per_word: int, interval: float
    ) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        paced = _Paced(session, frames, start, per_word, interval, loop.create_future())
        self._send(paced, loop)
        return paced.future

    def _send(self, paced: _Paced, loop: asyncio.AbstractEventLoop) -> None:
        future = paced.future
        if future.done():  # the Run's task was cancelled
            return
        session = paced.session
        if session.outcome is not None:
            future.set_result(ENDED)
            return
        stream = session.stream
        try:
            stream.write_nowait(paced.frames[paced.next])
        except StreamGone:
            future.set_result(ENDED)
            return
        session.counters.frames_out += paced.per_word
        paced.next += 1
        if paced.next >= len(paced.frames) or stream.buffered > HIGH_WATER:
            future.set_result(paced.next)
            return
        due = loop.time() + paced.interval
        heapq.heappush(self._due, (due, next(self._order), paced))
        if self._timer is None or due < self._timer_at:
            self._arm(loop, due)

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = loop.call_at(due, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        due = self._due
        ready = []
        while due and due[0][0] <= now:
            ready.append(heapq.heappop(due)[2])
        for paced in ready:
            self._send(paced, loop)
        if due and self._timer is None:
            self._arm(loop, due[0][0])
