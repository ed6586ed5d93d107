"""Load-adaptive write pacing: when the event loop is behind, a stream writes less often.

Every client write of a stream costs the same whatever it carries: one pass through the
layers from the upstream read to the socket (the async generators of the turn, the
renderer, the ASGI send, a `send()` system call). Paced streams (a model typing one word
at a time) make one write per word, so at a few hundred streams the bridge's CPU is
spent per word and the starts of new conversations queue behind it.

So when the loop is behind, a stream that has just written waits a short, bounded *hold*
before it reads its turn again. Nothing is buffered here: the words that arrive meanwhile
wait upstream, where the receive side hands over everything buffered as one batch
(`transport/stream.py` `receive()` joins the frames that arrived; `UpstreamRun.batches`
turns one read into one batch), and go out in one write, through every layer once.
When the loop is not behind, the hold is zero: no added latency at low load.

How far behind the loop is (`LoopLag`) is measured by one timer per event loop, ticking
every `LAG_INTERVAL` while at least one stream is open (none otherwise): how late a tick
runs is how long a ready callback waited for the loop. The reading is a running average
of those latenesses (`LAG_WEIGHT`), with the pending tick's lateness so far counted as one
more sample: one stray late tick (the process descheduled for a moment) does not make the
loop behind, a loop that stalls reads as behind before its next tick runs, and a loop that
caught up reads as idle again within a few on-time ticks. A per-stream measure (a chunk's
arrival to its consumer running) would need a timestamp per chunk on the receive side;
the shared timer costs one callback per interval for all streams together.

The thresholds come from measurements on this 2-core machine under other load. With one
paced stream the average stayed under 2 ms (under 4.1 ms at worst); with 200 paced streams
starting at once it read 4-18 ms at the median and 17-64 ms at the 90th percentile.
Below `BEHIND` nothing is held; above it the hold is `HOLD_PER_LAG` times the lag, capped
at `MAX_HOLD`: a word waits at most `MAX_HOLD` longer than it would have, the end of a
turn likewise. A hold only saves work when it spans several words: at 50 words/s per
stream, forced holds of 20 / 50 / 100 ms cost 0 / 12 / 35 % less bridge CPU per paced
word (`benchmarks.cpu --paced 0.02`), the rest being the per-frame upstream receive.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Protocol

# How often the loop's lateness is sampled while streams are open.
LAG_INTERVAL = 0.005
# The weight of each tick's lateness in the running average (one late tick alone, e.g.
# the process descheduled for a moment, does not make the loop behind).
LAG_WEIGHT = 0.25
# Loop lag (seconds) from which writes are held; below it nothing is.
BEHIND = 0.005
# Hold = HOLD_PER_LAG * lag, at most MAX_HOLD seconds.
HOLD_PER_LAG = 4.0
MAX_HOLD = 0.1


class LagSource(Protocol):
    """How far behind the event loop runs, while `acquire()`d by at least one stream."""

    def acquire(self) -> None: ...

    def release(self) -> None: ...

    def lag(self) -> float: ...


class LoopLag:
    """The lateness of a timer ticking every *interval* s on *loop* while acquired, as a
    running average (module doc)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float = LAG_INTERVAL) -> None:
        self._loop = loop
        self._interval = interval
        self._users = 0
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._average = 0.0

    def acquire(self) -> None:
        self._users += 1
        if self._timer is None:
            self._schedule()

    def release(self) -> None:
        self._users -= 1
        if self._users <= 0 and self._timer is not None:
            self._users = 0
            self._timer.cancel()
            self._timer = None
            self._average = 0.0

    def lag(self) -> float:
        """Seconds a callback made ready now would wait, as measured lately (0 when idle):
        the average, with the pending tick's lateness so far counted as one more sample."""
        if self._timer is None:
            return 0.0
        average = self._average
        overdue = time.perf_counter() - self._due
        return average + LAG_WEIGHT * (overdue - average) if overdue > average else average

    def _schedule(self) -> None:
        self._due = time.perf_counter() + self._interval
        self._timer = self._loop.call_later(self._interval, self._tick)

    def _tick(self) -> None:
        late = time.perf_counter() - self._due
        self._average += LAG_WEIGHT * ((late if late > 0.0 else 0.0) - self._average)
        self._schedule()


class WritePacing:
    """The hold after a stream's write, from a LagSource (module doc)."""

    def __init__(
        self,
        lag: LagSource,
        *,
        behind: float = BEHIND,
        per_lag: float = HOLD_PER_LAG,
        max_hold: float = MAX_HOLD,
    ) -> None:
        self.source = lag
        self.behind = behind
        self.per_lag = per_lag
        self.max_hold = max_hold

    def hold(self) -> float:
        """Seconds to wait before reading the turn again after a write (0: do not)."""
        lag = self.source.lag()
        if lag < self.behind:
            return 0.0
        hold = lag * self.per_lag
        return hold if hold < self.max_hold else self.max_hold


_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WritePacing] = (
    weakref.WeakKeyDictionary()
)


# The last loop asked about and its pacing (held: a loop it names cannot be mistaken for a
# new one at the same address; at most one finished loop is kept alive by it).
_last: tuple[asyncio.AbstractEventLoop, WritePacing] | None = None


def loop_pacing() -> WritePacing:
    """The running loop's WritePacing, on its one LoopLag (made on first use)."""
    global _last
    loop = asyncio.get_running_loop()
    last = _last
    if last is not None and last[0] is loop:  # the usual case: one loop (no weakref lookup)
        return last[1]
    pacing = _PER_LOOP.get(loop)
    if pacing is None:
        pacing = _PER_LOOP[loop] = WritePacing(LoopLag(loop))
    _last = (loop, pacing)
    return pacing
