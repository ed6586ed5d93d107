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
- `DIRECT_BODY` (event_stream.py): an event stream writes its body chunks through the
  cycle's `write_body` instead of awaiting `send` with a message each time (no message
  dict, no coroutine per chunk); only past the server's own send, and only when that send
  would write the chunk at once (else the chunk goes through `send`: a paused connection
  waits there).

An adopted cycle also sends with `LeanCycle.send`: the same bytes and state as uvicorn's
`send`, with the checks of plain headers (two regular expressions and lower-casing each)
done once per distinct set instead of on every response, and a chunked body's framing in
one step.

The objects here hold the cycle weakly, or only until the held head is written, so a
finished cycle is freed at once (no reference cycles for the collector).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    RequestResponseCycle,
)

from .disconnect import DISCONNECT_HOOK
from .event_stream import DIRECT_BODY, HOLD_HEAD, BodyWriter
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

    def direct_body(self, send: object) -> BodyWriter | None:
        """The cycle's `write_body` when *send* is the cycle's own send (LeanCycle's), so
        a body written past it is what that send writes; else None (a middleware's send,
        which must see every message)."""
        cycle = self._cycle()
        if not isinstance(cycle, LeanCycle):
            return None
        writer: BodyWriter = cycle.write_body
        own = getattr(send, "__self__", None) is cycle
        if own and getattr(send, "__func__", None) is LeanCycle.send:
            return writer
        return None

    def fire(self) -> None:
        """The connection was lost: tell the request, if its response was not complete."""
        callback, self._callback = self._callback, None
        cycle = self._cycle()
        if callback is not None and cycle is not None and cycle.disconnected:
            callback()


# Response-header blocks already checked, by the headers as sent (the server's defaults,
# then the response's): their `name: value\r\n` lines, names lower-cased, as uvicorn writes
# them. Only blocks of plain headers are kept (the ones uvicorn acts on go its way); a
# route's headers repeat, and the date changes once a second.
_BLOCKS: dict[tuple[tuple[bytes, bytes], ...], bytes] = {}
_KEPT_BLOCKS = 512
# The headers uvicorn's send acts on (framing, keep-alive): a start with any goes its way.
_ACTED_ON = frozenset({b"content-length", b"transfer-encoding", b"connection"})


def _header_block(headers: tuple[tuple[bytes, bytes], ...]) -> bytes | None:
    """The lines of *headers* if all are plain and valid (kept for the next response with
    the same headers), else None. Raises TypeError for an unhashable header."""
    block = _BLOCKS.get(headers)
    if block is not None:
        return block
    lines = []
    for header in headers:
        line = _plain_line(header)
        if line is None:
            return None
        lines.append(line)
    block = b"".join(lines)
    if len(_BLOCKS) >= _KEPT_BLOCKS:
        _BLOCKS.clear()
    _BLOCKS[headers] = block
    return block


def _plain_line(header: tuple[bytes, bytes]) -> bytes | None:
    """The line of a plain, valid header, else None: a header that uvicorn acts on or
    refuses, or one that is not a (bytes, bytes) tuple."""
    if type(header) is not tuple or len(header) != 2:
        return None
    name, value = header
    if type(name) is not bytes or type(value) is not bytes:
        return None
    if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value):
        return None  # uvicorn raises its error
    name = name.lower()
    if name in _ACTED_ON:
        return None
    return b"".join((name, b": ", value, b"\r\n"))


class LeanCycle(RequestResponseCycle):
    """uvicorn's cycle with a shorter `send` for the common messages: a start whose headers
    are all plain (checked once per distinct set, see _header_block) and the body of a
    chunked response. Anything else (a paused or gone connection, uvicorn's access log, a
    header it acts on, an unexpected message) is uvicorn's own `send`, unchanged."""

    async def send(self, message: ASGISendEvent) -> None:
        if self.flow.write_paused or self.disconnected or self.access_log:
            await super().send(message)
        elif not self.response_started:
            head = self._plain_head(message)
            if head is None:
                await super().send(message)
            else:
                self.response_started = True
                self.waiting_for_100_continue = False
                self.transport.write(head)
        elif message["type"] != "http.response.body" or not self.write_body(
            message.get("body", b""), message.get("more_body", False)
        ):
            await super().send(message)

    def write_body(self, body: bytes, more_body: bool) -> bool:
        """What `send` does with a body message of a started chunked response, done at once
        (True); False, with nothing done, where `send` goes uvicorn's way (a paused or gone
        connection, the access log, a HEAD answer, a body that is not chunked or is over)."""
        if (
            self.flow.write_paused
            or self.disconnected
            or self.access_log
            or not self.response_started
            or not self.chunked_encoding
            or self.response_complete
            or self.scope["method"] == "HEAD"  # uvicorn writes no body for HEAD
        ):
            return False
        self._chunk(body, more_body)
        return True

    def _plain_head(self, message: ASGISendEvent) -> bytes | None:
        """The status line and headers as uvicorn writes them, or None (its way)."""
        if message["type"] != "http.response.start":
            return None
        status = message["status"]
        status_line = STATUS_LINE.get(status)
        if status_line is None:
            return None
        try:
            block = _header_block((*self.default_headers, *message.get("headers", ())))
        except TypeError:  # an unhashable header: not a tuple of bytes
            return None
        if block is None:
            return None
        lines = [status_line, block]
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        if self.scope["method"] != "HEAD" and status not in (204, 304):
            self.chunked_encoding = True
            lines.append(b"transfer-encoding: chunked\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    def _chunk(self, body: bytes, more_body: bool) -> None:
        """One chunk of a chunked body (the last chunk too when it is the end)."""
        data = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
        if not more_body:
            data += b"0\r\n\r\n"
        self.transport.write(data)
        if not more_body:
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()


# What LeanCycle reads and sets of uvicorn's cycle (its own attributes, not an API): a
# uvicorn whose cycle lacks any of them keeps its own `send` rather than fail every request.
_LEAN_NEEDS = (
    "access_log",
    "chunked_encoding",
    "default_headers",
    "disconnected",
    "flow",
    "keep_alive",
    "message_event",
    "on_response",
    "response_complete",
    "response_started",
    "scope",
    "transport",
    "waiting_for_100_continue",
)
_lean_fit: bool | None = None


def _lean_fits(cycle: RequestResponseCycle) -> bool:
    """Whether this uvicorn's cycles have what LeanCycle uses (checked on the first one)."""
    global _lean_fit
    if _lean_fit is None:
        _lean_fit = all(hasattr(cycle, name) for name in _LEAN_NEEDS) and hasattr(
            cycle.flow, "write_paused"
        )
    return _lean_fit


def adopt(cycle: RequestResponseCycle, loop: asyncio.AbstractEventLoop) -> CycleHooks:
    """Put a new cycle's hooks in its scope, and give it LeanCycle's `send` (uvicorn makes
    its cycles itself; LeanCycle adds no state, only methods)."""
    if type(cycle) is RequestResponseCycle and _lean_fits(cycle):
        cycle.__class__ = LeanCycle
    hooks = CycleHooks(weakref.ref(cycle), loop)
    scope = cycle.scope
    scope[DISCONNECT_HOOK] = hooks.watch  # type: ignore[literal-required]
    scope[BODY_COMPLETE] = hooks.body_complete  # type: ignore[literal-required]
    scope[HOLD_HEAD] = hooks.hold_head  # type: ignore[literal-required]
    scope[DIRECT_BODY] = hooks.direct_body  # type: ignore[literal-required]
    return hooks
