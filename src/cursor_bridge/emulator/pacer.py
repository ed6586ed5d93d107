"""One timer for the paced words of every Run of a server.

A task that sleeps `token_latency` between words costs, per word of every stream, a timer
and a task wake-up through the turn player's coroutine chain. The `Pacer` keeps the due
words of all Runs in one heap under one timer and queues each stream's next word (bytes
encoded beforehand, see words.py) when it is due; each stream keeps its own pace: its next
word is due `interval` after its previous one went out, as after a sleep.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .connection import HIGH_WATER, StreamGone

if TYPE_CHECKING:
    from .run import RunSession

# A timer may fire a hair before its time (asyncio fires what is due within its clock's
# resolution; float rounding): words due that soon go out in this tick.
_TIMER_RESOLUTION = 0.0001


class Frames(Protocol):
    """The words to pace: item i is the bytes of word i's frames."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> bytes: ...


ENDED = -1
"""What `Pacer.play`'s future gives when the Run ended or its stream is gone."""


@dataclass(slots=True, eq=False)
class _Paced:
    """One Run's stretch of words in flight: `frames[next]` goes out at `due`."""

    session: RunSession
    frames: Frames
    next: int
    per_word: int
    interval: float
    future: asyncio.Future[int]
    due: float = 0.0


@dataclass(slots=True)
class Pacer:
    """Writes every Run's due words from one timer (per server, on its event loop).

    `play` queues `frames[start]` now and the next ones `interval` apart (each item: one
    word's frames, `per_word` of them); its future gives the index reached: the end, or
    less when the stream's send buffer went over its high-water mark (the task then waits
    for it to drain, as a blocking write would, and plays on), or `ENDED` when the Run
    ended or its stream is gone.

    Waiting words sit in one FIFO queue per interval (a server has one): a word's due time
    is the loop's clock when it was queued plus the interval, so each queue is in due order.
    """

    _queues: dict[float, deque[_Paced]] = field(default_factory=dict)
    _timer: asyncio.TimerHandle | None = None
    _timer_at: float = 0.0

    def play(
        self, session: RunSession, frames: Frames, start: int, per_word: int, interval: float
    ) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        paced = _Paced(session, frames, start, per_word, interval, loop.create_future())
        self._send(paced, loop.time())
        self._arm(loop)
        return paced.future

    def _send(self, paced: _Paced, now: float) -> None:
        """Queue the stream's next word now, and line up the one after it."""
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
        paced.due = now + paced.interval
        queue = self._queues.get(paced.interval)
        if queue is None:
            queue = self._queues[paced.interval] = deque()
        queue.append(paced)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """The timer at the earliest due word (if it is not already set for then)."""
        earliest = min((queue[0].due for queue in self._queues.values() if queue), default=None)
        if earliest is None or (self._timer is not None and self._timer_at <= earliest):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = earliest
        self._timer = loop.call_at(earliest, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        until = now + _TIMER_RESOLUTION
        for interval, queue in list(self._queues.items()):
            # Only the words waiting when the tick began: those queued again in it are next.
            for _ in range(len(queue)):
                if queue[0].due > until:
                    break
                self._send(queue.popleft(), now)
            if not queue:
                del self._queues[interval]
        self._arm(loop)
