"""What the bridge's HTTP protocol adds to each of uvicorn's request/response cycles.

Two things, both to spare per-request work on the event loop (header_deadline.py installs
them on every cycle of `serve`):

- The response head waits for the body's first bytes (`HeadWithBody`): uvicorn writes the
  status line and headers in one `transport.write` and each body message in another, so a
  stream's start cost two send syscalls (and two wake-ups of the client) where one does.
  The bytes on the wire are the same; a head whose body does not follow in the same step
  goes out on its own at the end of the loop iteration (never held longer).
- A disconnect hook in the scope (`DISCONNECT_HOOK`, see disconnect.py): the gate learns
  that the client left from the connection itself instead of a watcher task per request
  that waits in `receive()`. And whether the body is all in (`BODY_COMPLETE`, limits.py):
  then reading it needs no deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from .disconnect import DISCONNECT_HOOK
from .limits import BODY_COMPLETE


class HeadWithBody:
    """A cycle's transport: uvicorn's head write is held until its next write, which then
    carries both (one syscall). Only the head is held (the first write once the cycle has
    started its response: a `100 Continue` goes out at once), and at most until the end of
    the loop iteration."""

    __slots__ = ("_cycle", "_head", "_loop", "_waiting", "transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        cycle: RequestResponseCycle,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.transport = transport
        self._cycle = cycle
        self._loop = loop
        self._head: bytes | None = None
        self._waiting = True  # for the head

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self.transport.write(head + data)
        elif self._waiting and self._cycle.response_started:
            self._waiting = False
            self._head = data
            self._loop.call_soon(self.flush)
        else:
            self.transport.write(data)

    def flush(self) -> None:
        """Write a held head (its body did not follow in the same step)."""
        head = self._head
        if head is not None:
            self._head = None
            if not self.transport.is_closing():
                self.transport.write(head)

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def close(self) -> None:
        self.flush()
        self.transport.close()


class DisconnectHook:
    """`hook(callback)`: call *callback* once if the client disconnects before the response
    is complete (at once, on the next loop iteration, when it already has)."""

    __slots__ = ("_callback", "_cycle", "_loop")

    def __init__(self, cycle: RequestResponseCycle, loop: asyncio.AbstractEventLoop) -> None:
        self._cycle = cycle
        self._loop = loop
        self._callback: Callable[[], None] | None = None

    def __call__(self, callback: Callable[[], None]) -> None:
        cycle = self._cycle
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
        cycle = self._cycle
        return not cycle.more_body or cycle.disconnected or cycle.response_complete

    def fire(self) -> None:
        """The connection was lost: tell the request, if its response was not complete."""
        callback, self._callback = self._callback, None
        if callback is not None and self._cycle.disconnected:
            callback()


def adopt(cycle: RequestResponseCycle, loop: asyncio.AbstractEventLoop) -> DisconnectHook:
    """Give a new cycle the head-with-body transport and its scope the disconnect hook."""
    cycle.transport = HeadWithBody(cycle.transport, cycle, loop)  # type: ignore[assignment]
    hook = DisconnectHook(cycle, loop)
    cycle.scope[DISCONNECT_HOOK] = hook  # type: ignore[literal-required]
    cycle.scope[BODY_COMPLETE] = hook.body_complete  # type: ignore[literal-required]
    return hook
