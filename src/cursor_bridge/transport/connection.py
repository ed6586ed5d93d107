"""Connection: one HTTP/2 client connection, an asyncio Protocol driving `h2`.

All HTTP/2 state (stream states, windows, HPACK) lives in `h2`; this class moves
bytes between the socket and `h2` and routes `h2` events to `DuplexStream`s, and the
DATA frames our h2 connection reads without an event (`client_h2.DataChunk`).
Inbound bytes are handled in `data_received` (no reader task); outbound bytes are
collected from `h2` and written once per event-loop iteration, so many streams
writing in the same tick share one socket write. What the receive callbacks queue (a KV
answer, a WINDOW_UPDATE) leaves with the read that caused it: `data_received` flushes at
its end, and schedules no flush of its own meanwhile (`_receiving`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import Callable
from typing import Any, cast

from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    PingAckReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from h2.exceptions import H2Error, TooManyStreamsError
from h2.settings import SettingCodes

from . import request_frames
from .client_h2 import CONNECTION_WINDOW, new_client_h2
from .errors import ConnectFailed, TransportError
from .origin import Origin
from .received_headers import split_status, text_headers
from .stream import DuplexStream

__all__ = ["Connection", "NoStreamCapacity"]


class NoStreamCapacity(TransportError):
    """The connection cannot take another stream (MAX_CONCURRENT_STREAMS or GOAWAY)."""


class Connection(asyncio.Protocol):
    """One HTTP/2 connection to one origin and the streams multiplexed over it."""

    def __init__(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self.loop = loop
        self.created_at = loop.time()
        self.last_received = self.created_at
        self._h2 = new_client_h2()
        # The server's MAX_CONCURRENT_STREAMS, read again whenever its SETTINGS change
        # (h2's property costs a Python-level mapping lookup, and the pool asks per stream).
        self._max_streams = self._h2.remote_settings.max_concurrent_streams
        self._pseudo = [
            (b":method", b"POST"),
            (b":scheme", origin.scheme.encode()),
            (b":authority", origin.authority.encode()),
        ]
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, DuplexStream] = {}
        self._window_blocked: set[DuplexStream] = set()
        self._settings_received: asyncio.Future[None] = loop.create_future()
        self._lost: asyncio.Future[None] = loop.create_future()
        self._error: TransportError | None = None
        self._accepting = True
        self._ping: asyncio.Future[bool] | None = None
        self._ping_count = 0
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._flush_handle: asyncio.Handle | None = None
        self._receiving = False  # in `data_received`, which flushes at its end
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            DataReceived: self._on_data,
            ResponseReceived: self._on_response,
            StreamEnded: self._on_stream_ended,
            WindowUpdated: self._on_window_updated,
            TrailersReceived: self._on_trailers,
            StreamReset: self._on_stream_reset,
            RemoteSettingsChanged: self._on_settings,
            PingAckReceived: self._on_ping_ack,
            ConnectionTerminated: self._on_goaway,
        }

    # -- lifecycle -------------------------------------------------------------

    @classmethod
    async def open(
        cls, origin: Origin, ssl_context: ssl.SSLContext | None, connect_timeout: float
    ) -> Connection:
        """Connect, negotiate h2 (ALPN for TLS, prior knowledge for h2c) and wait for
        the server's SETTINGS, so MAX_CONCURRENT_STREAMS is known before first use.

        Raises ConnectFailed.
        """
        loop = asyncio.get_running_loop()
        conn = cls(origin, loop)
        try:
            async with asyncio.timeout(connect_timeout):
                await loop.create_connection(
                    lambda: conn,
                    origin.host,
                    origin.port,
                    ssl=ssl_context if origin.tls else None,
                    server_hostname=origin.host if origin.tls else None,
                )
                conn._check_alpn()
                await asyncio.shield(conn._settings_received)
        except TimeoutError:
            error = ConnectFailed(f"{origin}: no HTTP/2 connection within {connect_timeout} s")
            conn.abort(error)
            raise error from None
        except ConnectFailed:
            conn.abort(ConnectFailed(f"{origin}: connect failed"))
            raise
        except OSError as exc:
            conn.abort(ConnectFailed(f"{origin}: connect failed"))
            raise ConnectFailed(f"{origin}: connect failed: {exc}") from exc
        except BaseException:
            conn.abort(ConnectFailed(f"{origin}: connect interrupted"))
            raise
        return conn

    def _check_alpn(self) -> None:
        if not self.origin.tls or self._transport is None:
            return
        ssl_object = self._transport.get_extra_info("ssl_object")
        protocol = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if protocol != "h2":
            raise ConnectFailed(
                f"{self.origin}: TLS ALPN selected {protocol!r}, not 'h2' "
                "(the server must speak HTTP/2; a custom SSLContext must offer ALPN 'h2')"
            )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop transports are not asyncio.Transport subclasses but have its API.
        self._transport = cast("asyncio.Transport", transport)
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(CONNECTION_WINDOW - 65535)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else " (closed by the server)"
        self._die(TransportError(f"connection to {self.origin} lost{reason}"))
        if not self._lost.done():
            self._lost.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain_waiters()

    def close(self) -> None:
        """Graceful close: GOAWAY, flush, close the socket; open streams fail."""
        if self._transport is not None and self._error is None:
            with contextlib.suppress(H2Error):
                self._h2.close_connection()
            self._flush()
            self._transport.close()
        self._die(TransportError(f"connection to {self.origin} was closed"))

    def abort(self, error: TransportError) -> None:
        """Drop the socket at once; open streams fail with `error`."""
        self._die(error)
        if self._transport is not None:
            self._transport.abort()

    async def wait_closed(self, grace: float) -> None:
        """Wait until the socket is gone; abort it if that takes longer than `grace` s."""
        if self._transport is None:
            return
        try:
            async with asyncio.timeout(grace):
                await asyncio.shield(self._lost)
        except TimeoutError:
            self._transport.abort()

    def retire(self) -> None:
        """Take no new streams; close once the in-flight ones finish."""
        self._accepting = False
        if not self._streams:
            self.close()

    def _die(self, error: TransportError) -> None:
        if self._error is not None:
            return
        self._error = error
        self._accepting = False
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        for stream in list(self._streams.values()):
            stream._fail(error)
        self._streams.clear()
        self._window_blocked.clear()
        if not self._settings_received.done():
            self._settings_received.set_exception(ConnectFailed(str(error)))
            self._settings_received.exception()  # retrieved: nobody may be waiting
        if self._ping is not None and not self._ping.done():
            self._ping.set_result(False)
        self._wake_drain_waiters()

    # -- state for the pool ----------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._error is not None

    @property
    def accepting_streams(self) -> bool:
        """False after GOAWAY, retirement or death: new streams must go elsewhere."""
        return self._accepting

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    @property
    def max_concurrent_streams(self) -> int:
        return self._max_streams

    def has_capacity(self) -> bool:
        return self._accepting and len(self._streams) < self._max_streams

    def idle_for(self) -> float:
        """Seconds since any bytes arrived from the server."""
        return self.loop.time() - self.last_received

    async def ping(self, ack_timeout: float) -> bool:
        """PING the server; True if the ACK came within `ack_timeout` seconds.

        On timeout the connection is aborted (its streams fail). Concurrent callers
        share one PING.
        """
        if self._error is not None:
            return False
        if self._ping is None or self._ping.done():
            self._ping_count += 1
            self._ping = self.loop.create_future()
            self._h2.ping(self._ping_count.to_bytes(8, "big"))
            self._flush()
        ping = self._ping
        try:
            async with asyncio.timeout(ack_timeout):
                return await asyncio.shield(ping)
        except TimeoutError:
            self.abort(TransportError(f"{self.origin}: no PING ACK within {ack_timeout} s"))
            return False

    # -- operations used by DuplexStream ----------------------------------------

    def start_stream(self, path: str, headers: list[tuple[str, str]]) -> DuplexStream:
        """Send request HEADERS (POST, body left open) and register the new stream."""
        if not self.has_capacity():
            raise NoStreamCapacity(f"{self.origin}: connection is full or draining")
        h2 = self._h2
        stream_id = h2.get_next_available_stream_id()
        try:
            request_frames.open_request(h2, stream_id, [*self._pseudo, _path(path)], headers)
        except TooManyStreamsError as exc:
            raise NoStreamCapacity(str(exc)) from exc
        except H2Error as exc:
            raise TransportError(f"{self.origin}: cannot open stream: {exc}") from exc
        stream = DuplexStream(self, stream_id)
        self._streams[stream_id] = stream
        self._flush_soon()
        return stream

    def send_window(self, stream_id: int) -> int:
        """`h2.local_flow_control_window`: the smaller of the connection's and the stream's
        send windows (read directly for a stream h2 tracks; h2 raises for any other)."""
        h2 = self._h2
        stream = h2.streams.get(stream_id)
        if stream is not None:
            window = h2.outbound_flow_control_window
            own = stream.outbound_flow_control_window
            return own if own < window else window
        try:
            return h2.local_flow_control_window(stream_id)
        except H2Error as exc:
            raise TransportError(f"stream {stream_id}: {exc}") from exc

    @property
    def max_outbound_frame_size(self) -> int:
        return self._h2.max_outbound_frame_size

    @property
    def writable(self) -> bool:
        """Whether bytes may be queued without waiting: alive and the socket not paused."""
        return self._error is None and not self._write_paused

    def send_data(self, stream_id: int, data: memoryview) -> None:
        try:
            self._h2.send_data(stream_id, data)
        except H2Error as exc:
            raise TransportError(f"stream {stream_id}: cannot send: {exc}") from exc
        if self._flush_handle is None and self._error is None and not self._receiving:
            self._flush_handle = self.loop.call_soon(self._flush)  # (`_flush_soon`, inlined)

    def send_frame_now(self, stream_id: int, data: bytes | bytearray) -> bool:
        """`send_data` of `data` as one frame, if `writable` and h2 would send it as it is
        (`ClientH2Connection.send_direct`); else False, with nothing done."""
        if self._error is not None or self._write_paused:
            return False
        if not self._h2.send_direct(stream_id, data):
            return False
        if self._flush_handle is None and not self._receiving:
            self._flush_handle = self.loop.call_soon(self._flush)  # (`_flush_soon`, inlined)
        return True

    def end_stream(self, stream_id: int) -> None:
        try:
            request_frames.end_stream(self._h2, stream_id)
        except H2Error as exc:
            raise TransportError(f"stream {stream_id}: cannot end: {exc}") from exc
        self._flush_soon()

    def reset_stream(self, stream_id: int, error_code: ErrorCodes) -> None:
        if self._error is not None:
            return
        try:
            self._h2.reset_stream(stream_id, error_code)
        except H2Error:
            return  # already closed in h2: nothing to reset
        self._flush_soon()

    def acknowledge(self, stream_id: int, size: int) -> None:
        """Return `size` bytes of receive credit (h2 batches the WINDOW_UPDATEs)."""
        if self._error is not None or size == 0:
            return
        self._h2.acknowledge_received_data(size, stream_id)
        self._flush_soon()

    def wait_for_window(self, stream: DuplexStream) -> None:
        self._window_blocked.add(stream)

    def release(self, stream: DuplexStream) -> None:
        """Forget a finished stream; a draining connection closes with its last stream."""
        if self._streams.pop(stream.stream_id, None) is None:
            return
        self._window_blocked.discard(stream)
        if not self._accepting and not self._streams and self._error is None:
            self.close()

    async def drained(self) -> None:
        """Wait while the socket's write buffer is over its high-water mark."""
        if not self._write_paused or self._error is not None:
            return
        waiter = self.loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def _wake_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- writing ---------------------------------------------------------------

    def _flush_soon(self) -> None:
        if self._flush_handle is None and self._error is None and not self._receiving:
            self._flush_handle = self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        data = self._h2.take_data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    # -- reading ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.last_received = self.loop.time()
        try:
            items = self._h2.receive(data)
        except H2Error as exc:
            self._flush()  # h2 queued a GOAWAY explaining the error
            self.abort(TransportError(f"{self.origin}: HTTP/2 protocol error: {exc}"))
            return
        streams = self._streams
        handlers = self._handlers
        self._receiving = True
        try:
            for item in items:
                if isinstance(item, tuple):  # a DataChunk: most of what arrives
                    stream_id, chunk, size = item
                    stream = streams.get(stream_id)
                    if stream is not None:
                        stream._on_data(chunk, size)
                    else:
                        self._unclaimed_data(stream_id, size)
                else:
                    handler = handlers.get(type(item))
                    if handler is not None:
                        handler(item)
        finally:
            self._receiving = False
            self._flush()  # what the callbacks queued (they scheduled no flush)

    def _on_data(self, event: DataReceived) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is None:
            self._unclaimed_data(event.stream_id, event.flow_controlled_length)
            return
        stream._on_data(event.data, event.flow_controlled_length)

    def _unclaimed_data(self, stream_id: int, size: int) -> None:
        """Late data for a stream we let go of: only the connection credit matters."""
        self._h2.acknowledge_received_data(size, stream_id)

    def _on_response(self, event: ResponseReceived) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is not None:
            stream._on_response(*split_status(text_headers(event.headers)))

    def _on_trailers(self, event: TrailersReceived) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is not None:
            stream._on_trailers(text_headers(event.headers))

    def _on_stream_ended(self, event: StreamEnded) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is not None:
            stream._on_end()

    def _on_stream_reset(self, event: StreamReset) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is not None:
            code = event.error_code
            name = code.name if isinstance(code, ErrorCodes) else str(code)
            stream._fail(TransportError(f"stream {event.stream_id} reset by the server: {name}"))

    def _on_window_updated(self, event: WindowUpdated) -> None:
        if event.stream_id:
            stream = self._streams.get(event.stream_id)
            if stream is not None and stream in self._window_blocked:
                self._window_blocked.discard(stream)
                stream._on_window()
        else:
            self._wake_window_blocked()

    def _on_settings(self, event: RemoteSettingsChanged) -> None:
        # h2 has applied the new values by the time its events are handled.
        self._max_streams = self._h2.remote_settings.max_concurrent_streams
        if not self._settings_received.done():
            self._settings_received.set_result(None)
        if SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
            self._wake_window_blocked()

    def _wake_window_blocked(self) -> None:
        blocked, self._window_blocked = self._window_blocked, set()
        for stream in blocked:
            stream._on_window()

    def _on_ping_ack(self, event: PingAckReceived) -> None:
        ping = self._ping
        expected = self._ping_count.to_bytes(8, "big")
        if ping is not None and not ping.done() and event.ping_data == expected:
            ping.set_result(True)

    def _on_goaway(self, event: ConnectionTerminated) -> None:
        """Streams the server never saw fail now; the rest may finish."""
        self._accepting = False
        last = event.last_stream_id if event.last_stream_id is not None else 0
        code = event.error_code
        name = code.name if isinstance(code, ErrorCodes) else str(code)
        for stream_id, stream in list(self._streams.items()):
            if stream_id > last:
                stream._fail(
                    TransportError(
                        f"stream {stream_id} refused: {self.origin} sent GOAWAY ({name}) "
                        f"with last_stream_id {last}"
                    )
                )
        if not self._streams:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open" if self._accepting else "draining"
        return f"<Connection {self.origin} {state} streams={len(self._streams)}>"


@functools.lru_cache(maxsize=64)
def _path(path: str) -> tuple[bytes, bytes]:
    return (b":path", path.encode())
