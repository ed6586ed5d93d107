"""What the bridge's HTTP protocol adds to each of uvicorn's request/response cycles.

Hooks in the scope, to spare per-request work on the event loop (header_deadline.py installs
them on every cycle of `serve`):

- `DISCONNECT_HOOK` (disconnect.py): the gate learns that the client left from the
  connection itself instead of a watcher task per request that waits in `receive()`.
- `BODY_COMPLETE` (limits.py): whether the whole body is in, so reading it needs no
  deadline.
- `HOLD_HEAD` (event_stream.py): an answer whose first body bytes follow its start at once
  asks for its response head to go out with them. uvicorn writes the status line and
  headers in one `transport.write` and each body message in another, so a stream's start
  cost two send syscalls where one does; the bytes on the wire are the same. Only asked
  for when the body does follow in the same step (a held head waits for the next write).

The objects here hold the cycle weakly, or only until the held head is written, so a
finished cycle is freed at once (no reference cycles for the collector).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from .disconnect import DISCONNECT_HOOK
from .event_stream import HOLD_HEAD
from .limits import BODY_COMPLETE


class HeadWithBody:
    """A cycle's transport while its head is held: the first write (the head) is kept, the
    next goes out with it in one write and puts the cycle's own transport back."""

    __slots__ = ("_cycle", "_head", "transport")

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self.transport = cycle.transport
        self._cycle: RequestResponseCycle | None = cycle
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is None and self._cycle is not None:
            self._head = data
            return
        self._restore()
        head, self._head = self._head, None
        self.transport.write(head + data if head is not None else data)

    def flush(self) -> None:
        """Write a held head on its own."""
        self._restore()
        head, self._head = self._head, None
        if head is not None and not self.transport.is_closing():
            self.transport.write(head)

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def _restore(self) -> None:
        cycle, self._cycle = self._cycle, None
        if cycle is not None and cycle.transport is self:  # type: ignore[comparison-overlap]
            cycle.transport = self.transport


class CycleHooks:
    """The hooks of one cycle (module doc), holding it weakly."""

    __slots__ = ("_callback", "_cycle", "_loop")

    def __init__(
        self, cycle: weakref.ref[RequestResponseCycle], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._cycle = cycle
        self._loop = loop
        self._callback: Callable[[], None] | None = None

    def watch(self, callback: Callable[[], None] | None) -> None:
        """Call *callback* once if the client disconnects before the response is complete
        (on the next loop iteration when it already has); None stops watching."""
        self._callback = None
        cycle = self._cycle()
        if callback is None or cycle is None:
            return
        if cycle.disconnected:
            self._loop.call_soon(callback)
            return
        self._callback = callback
        # What uvicorn's receive() does before it waits: a body above its high-water mark
        # paused reading, and a paused connection would not notice the client leaving.
        if not cycle.response_complete:
            cycle.flow.resume_reading()

    def body_complete(self) -> bool:
        """Whether receive() answers at once: the whole body is in, or the client left."""
        cycle = self._cycle()
        if cycle is None:
            return False
        return not cycle.more_body or cycle.disconnected or cycle.response_complete

    def hold_head(self) -> None:
        """The response's start is sent next and its body right after: one write for both."""
        cycle = self._cycle()
        # A HEAD answer has no body writes to carry its head.
        if cycle is not None and not cycle.response_started and cycle.scope["method"] != "HEAD":
            cycle.transport = HeadWithBody(cycle)  # type: ignore[assignment]

    def fire(self) -> None:
        """The connection was lost: tell the request, if its response was not complete."""
        callback, self._callback = self._callback, None
        cycle = self._cycle()
        if callback is not None and cycle is not None and cycle.disconnected:
            callback()


def adopt(cycle: RequestResponseCycle, loop: asyncio.AbstractEventLoop) -> CycleHooks:
    """Put a new cycle's hooks in its scope."""
    hooks = CycleHooks(weakref.ref(cycle), loop)
    scope = cycle.scope
    scope[DISCONNECT_HOOK] = hooks.watch  # type: ignore[literal-required]
    scope[BODY_COMPLETE] = hooks.body_complete  # type: ignore[literal-required]
    scope[HOLD_HEAD] = hooks.hold_head  # type: ignore[literal-required]
    return hooks
