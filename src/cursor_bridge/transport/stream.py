"""DuplexStream: one HTTP/2 request whose body and response flow at the same time.

The owning `Connection` feeds it events (`_on_*` methods) from the socket callback;
the application reads and writes through the async methods. Reading and writing
wait on separate futures, so a blocked `send()` never holds up `receive()`.
One task may send while another receives; two concurrent senders (or two
concurrent receivers) on the same stream are not supported.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from h2.errors import ErrorCodes

from .errors import TransportError, TransportTimeout

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["DuplexStream"]

Headers = list[tuple[str, str]]

_TIMER_SLACK = 0.001
"""An idle deadline this close counts as reached (event-loop timers may fire a little early)."""

_ACK_BATCH = 16 * 1024
"""Read bytes are credited back to h2 in batches of this size: one h2 call per chunk was a
measurable share of relaying small frames, and h2 only sends WINDOW_UPDATE once half of
the 1 MiB stream window has been read anyway."""


def _resolve(waiter: asyncio.Future[bool] | None, value: bool = True) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(value)


class DuplexStream:
    """A POST stream on a shared HTTP/2 connection, opened by `BackendPool.open_stream`.

    Inbound DATA is buffered per stream and its flow-control credit is returned to
    the server only after `receive()` handed the chunk to the consumer, so a consumer
    that stops reading stops the server (after one stream window) without affecting
    other streams on the connection.
    """

    def __init__(self, connection: Connection, stream_id: int) -> None:
        self._conn = connection
        self._stream_id = stream_id
        self._loop = connection.loop
        self._status: int | None = None
        self._response_headers: Headers = []
        self._chunks: deque[tuple[bytes, int]] = deque()
        self._unacknowledged = 0
        self._headers_waiter: asyncio.Future[bool] | None = None
        self._inbound_waiter: asyncio.Future[bool] | None = None
        self._idle_deadline: float | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._window_waiter: asyncio.Future[bool] | None = None
        self._local_ended = False
        self._remote_ended = False
        self._error: TransportError | None = None
        self._released = False
        self._idle_timeout: float | None = None
        self._consumer: Callable[[bytes], bool] | None = None
        self._consumer_woke = False
        self.trailers: Headers | None = None
        """Trailing headers, set when the server ended the stream with them."""

    @property
    def stream_id(self) -> int:
        return self._stream_id

    @property
    def finished(self) -> bool:
        """True once nothing more can happen: both sides ended, or the stream failed."""
        return self._error is not None or (self._local_ended and self._remote_ended)

    # -- application side ------------------------------------------------------

    async def response_headers(self) -> tuple[int, Headers]:
        """Wait for the response HEADERS; returns (status, headers without pseudo-headers).

        Raises TransportError if the stream dies before they arrive.
        """
        while self._status is None:
            self._raise_if_failed()
            waiter = self._loop.create_future()
            self._headers_waiter = waiter
            try:
                await waiter
            finally:
                self._headers_waiter = None
        return self._status, self._response_headers

    async def send(self, data: bytes) -> None:
        """Queue `data` as DATA frames, waiting for flow-control credit as needed.

        Frames are cut to the peer's window and max frame size. On return every byte
        is queued in order for the socket (written on the next event-loop turn,
        together with other streams' frames); if the socket buffer is over its
        high-water mark, this waits for it to drain first.
        """
        view = memoryview(data)
        conn = self._conn
        while view:
            self._raise_if_unsendable()
            window = conn.send_window(self._stream_id)
            if window <= 0:
                await self._wait_for_window()
                continue
            frame_limit = conn.max_outbound_frame_size
            while view and window > 0:
                size = min(len(view), window, frame_limit)
                conn.send_data(self._stream_id, view[:size])
                view = view[size:]
                window -= size
        await conn.drained()

    def can_send_now(self, size: int) -> bool:
        """Whether `send_now` can take `size` bytes: the stream is open for sending, its
        window holds them all and the socket is not paused."""
        conn = self._conn
        return (
            self._error is None
            and not self._local_ended
            and conn.writable
            and size <= conn.send_window(self._stream_id)
        )

    def send_now(self, data: bytes) -> None:
        """Queue `data` without waiting, for a caller that cannot (the receive callback);
        check `can_send_now` first, and know that no `send()` is in progress (it would
        interleave the bytes)."""
        view = memoryview(data)
        conn = self._conn
        frame_limit = conn.max_outbound_frame_size
        if len(view) <= frame_limit:  # the usual answer (a KV reply): one frame, no slicing
            if view:
                conn.send_data(self._stream_id, view)
            return
        while view:
            conn.send_data(self._stream_id, view[:frame_limit])
            view = view[frame_limit:]

    def try_send_now(self, data: bytes | bytearray) -> bool:
        """Queue `data` at once where it is certain what `can_send_now(len(data))` and then
        `send_now(data)` would do: one DATA frame that h2 writes as it is, straight into the
        connection's buffer (`Connection.send_frame_now`), in one call. False, with nothing
        queued, anywhere else: take those two steps then. Never raises. `data` is copied:
        the caller may reuse it at once."""
        return (
            self._error is None
            and not self._local_ended
            and self._conn.send_frame_now(self._stream_id, data)
        )

    def consume_inline(self, consumer: Callable[[bytes], bool] | None) -> None:
        """Hand inbound DATA to `consumer` in the socket callback, while nothing is
        buffered, instead of waking the task in `receive()`; it returns True when that task
        must wake anyway. The reader sets it again after catching up; None stops it."""
        self._consumer = consumer

    async def end(self) -> None:
        """Half-close: send END_STREAM. Idempotent; raises if the stream has failed."""
        if self._local_ended:
            return
        self._raise_if_failed()
        self._local_ended = True
        self._conn.end_stream(self._stream_id)
        self._release_if_finished()
        await self._conn.drained()

    async def receive(self, idle_timeout: float | None = None) -> bytes | None:
        """Return the DATA received since the last call, or None once the server ended the
        stream.

        Frames that arrived together come back joined, as a socket read would: the body is
        a byte stream, and one call per frame was a measurable share of relaying small
        frames. Raises TransportTimeout after `idle_timeout` seconds of waiting in this call
        without any inbound bytes on the stream (the stream stays usable), and
        TransportError when the stream was reset or its connection was lost (data that
        arrived before the failure is still delivered first). Returns b"" when the inline
        consumer (`consume_inline`) asked for the reader and nothing is buffered.
        """
        while True:
            if self._chunks:
                data = self._take_chunks()
                if data:  # padding-only frames carry credit but nothing to hand over
                    self._consumer_woke = False
                    return data
                continue
            if self._consumer_woke:
                self._consumer_woke = False
                return b""
            if self._remote_ended:
                return None
            if self._error is not None:
                self._raise_if_failed()
            # Wait for any inbound event (inlined: this is once per relayed chunk). One idle
            # timer per stream is kept across calls and re-armed lazily (see `_idle_check`):
            # a stream that keeps receiving never creates and cancels a timer per chunk.
            waiter: asyncio.Future[bool] = self._loop.create_future()
            self._inbound_waiter = waiter
            self._idle_timeout = idle_timeout
            if idle_timeout is not None:
                deadline = self._loop.time() + idle_timeout
                self._idle_deadline = deadline
                timer = self._idle_timer
                if timer is None or timer.when() > deadline:
                    if timer is not None:
                        timer.cancel()
                    self._idle_timer = self._loop.call_at(deadline, self._idle_check)
            try:
                inbound = await waiter
            finally:
                self._inbound_waiter = None
                self._idle_deadline = None
            if not inbound:
                raise TransportTimeout(
                    f"no data on stream {self._stream_id} for {idle_timeout} seconds"
                )

    def _take_chunks(self) -> bytes:
        """Every buffered chunk, joined; their credit is returned (in batches)."""
        chunks = self._chunks
        if len(chunks) == 1:
            data, credit = chunks.popleft()
        else:
            parts = []
            credit = 0
            while chunks:
                part, flow_controlled = chunks.popleft()
                parts.append(part)
                credit += flow_controlled
            data = b"".join(parts)
        self._credit(credit)
        return data

    def _credit(self, credit: int) -> None:
        unacknowledged = self._unacknowledged + credit
        if unacknowledged >= _ACK_BATCH:
            self._conn.acknowledge(self._stream_id, unacknowledged)
            unacknowledged = 0
        self._unacknowledged = unacknowledged

    async def cancel(self) -> None:
        """Reset the stream with CANCEL. Idempotent; a no-op once the stream finished."""
        if self.finished:
            return
        self._fail(TransportError(f"stream {self._stream_id} was cancelled"))
        self._conn.reset_stream(self._stream_id, ErrorCodes.CANCEL)

    async def __aenter__(self) -> DuplexStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cancel()

    def __repr__(self) -> str:
        return f"<DuplexStream {self._stream_id} on {self._conn.origin}>"

    # -- connection side (called from the socket callback) ---------------------

    def _on_response(self, status: int, headers: Headers) -> None:
        self._status = status
        self._response_headers = headers
        _resolve(self._headers_waiter)
        if self._inbound_waiter is not None:  # (rarely: a receive() before the headers)
            _resolve(self._inbound_waiter)

    def _on_data(self, data: bytes, flow_controlled: int) -> None:
        consumer = self._consumer
        if consumer is not None and data and not self._chunks:
            # Read in place (the reader is idle or will find nothing buffered): the credit is
            # returned now (`_credit`, inlined: this is once per chunk), and the reader's
            # idle deadline counts from this chunk.
            unacknowledged = self._unacknowledged + flow_controlled
            if unacknowledged >= _ACK_BATCH:
                self._conn.acknowledge(self._stream_id, unacknowledged)
                unacknowledged = 0
            self._unacknowledged = unacknowledged
            if self._idle_deadline is not None and self._idle_timeout is not None:
                self._idle_deadline = self._loop.time() + self._idle_timeout
            if consumer(data):
                self._consumer_woke = True
            else:
                return
        elif data or flow_controlled:
            self._chunks.append((data, flow_controlled))
        waiter = self._inbound_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _on_trailers(self, trailers: Headers) -> None:
        self.trailers = trailers
        _resolve(self._inbound_waiter)

    def _on_end(self) -> None:
        self._remote_ended = True
        _resolve(self._inbound_waiter)
        if self._headers_waiter is not None:  # (rarely: an end before the headers)
            _resolve(self._headers_waiter)
        if self._local_ended or self._error is not None:  # `_release_if_finished`, inlined
            self._release()

    def _on_window(self) -> None:
        _resolve(self._window_waiter)

    def _fail(self, error: TransportError) -> None:
        """Mark the stream failed and wake every waiter; the first failure wins."""
        if self._error is None:
            self._error = error
        _resolve(self._headers_waiter)
        _resolve(self._inbound_waiter)
        _resolve(self._window_waiter)
        self._release()

    # -- internals -------------------------------------------------------------

    def _raise_if_failed(self) -> None:
        error = self._error
        if error is not None:
            # A fresh instance per raise keeps tracebacks from piling up on one object.
            raise type(error)(*error.args)

    def _raise_if_unsendable(self) -> None:
        self._raise_if_failed()
        if self._local_ended:
            raise TransportError(f"stream {self._stream_id}: send() after end()")

    def _release_if_finished(self) -> None:
        if self.finished:
            self._release()

    def _release(self) -> None:
        """Detach from the connection, returning the credit of chunks not yet read.

        Without this a stream abandoned with unread data would shrink the shared
        connection window for good.
        """
        if self._released:
            return
        self._released = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        credit = self._unacknowledged
        if self._chunks:
            credit += sum(flow for _, flow in self._chunks)
        self._unacknowledged = 0
        if credit:
            self._chunks = deque((data, 0) for data, _ in self._chunks)
            self._conn.acknowledge(self._stream_id, credit)
        self._conn.release(self)

    async def _wait_for_window(self) -> None:
        waiter = self._loop.create_future()
        self._window_waiter = waiter
        self._conn.wait_for_window(self)
        try:
            await waiter
        finally:
            self._window_waiter = None

    def _idle_check(self) -> None:
        """The idle timer fired: time out the current wait if its deadline has passed, else
        re-arm for it (data arrived since the timer was set)."""
        self._idle_timer = None
        deadline = self._idle_deadline
        if deadline is None:
            return  # no wait with a deadline in progress
        if self._loop.time() + _TIMER_SLACK >= deadline:
            _resolve(self._inbound_waiter, False)
        else:
            self._idle_timer = self._loop.call_at(deadline, self._idle_check)
