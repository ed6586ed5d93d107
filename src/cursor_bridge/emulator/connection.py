"""HTTP/2 server plumbing: one asyncio Protocol per connection around a sans-IO `h2` machine.

All HTTP/2 state lives in `h2`. This module adds what a server needs around it: per-stream
outbound buffers pushed into h2 within the flow-control windows (several Connect frames of a
stream coalesce into one DATA frame), one socket write per event-loop iteration for all
streams, back-pressure from the socket (`pause_writing`) and from the buffers to the writers,
and stream handlers fed synchronously with request bytes (full duplex: a handler keeps
receiving while its task is streaming).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

from .data_frames import send_data, send_window

HIGH_WATER = 256 * 1024
_DEFAULT_WINDOW = 65_535
_CLOSED = h2.connection.ConnectionState.CLOSED


class StreamGone(Exception):
    """The stream was reset or its connection lost: nothing more can be sent on it."""


class StreamHandler(Protocol):
    """What the router attaches to a stream. Called synchronously from the connection."""

    def data_received(self, data: bytes) -> None: ...

    def end_received(self) -> None: ...

    def stream_lost(self) -> None:
        """The client reset the stream, the connection died, or the server is stopping."""


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    max_concurrent_streams: int = 1000
    initial_window_size: int = 1024 * 1024
    connection_window_size: int = 16 * 1024 * 1024
    close_grace: float = 2.0


class ServerStream:
    """The server side of one request stream."""

    def __init__(self, conn: H2ServerConnection, stream_id: int, headers: dict[str, str]) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.headers = headers
        self.method = headers.get(":method", "")
        self.path = headers.get(":path", "")
        self.authority = headers.get(":authority", "")
        self.handler: StreamHandler | None = None
        self.remote_ended = False
        self.finished = False  # END_STREAM requested by us
        self.closed = False  # reset (either side), connection lost, or both sides ended
        self._end_sent = False
        self._pending = bytearray()
        self._drained: asyncio.Event | None = None
        self._grace: asyncio.TimerHandle | None = None

    # -- sending ----------------------------------------------------------------------

    def respond(
        self, status: int, headers: Iterable[tuple[str, str]] = (), *, end_stream: bool = False
    ) -> None:
        """Send the response headers (and END_STREAM with them for an empty response)."""
        if self.closed:
            return
        self.conn.send_headers(self.stream_id, [(":status", str(status)), *headers], end_stream)
        if end_stream:
            self.finished = self._end_sent = True
            self.conn.after_local_end(self)

    def write_nowait(self, data: bytes) -> None:
        """Queue body bytes; they go out as the flow-control windows allow."""
        if self.closed or self.finished:
            raise StreamGone(self.stream_id)
        self._pending += data
        self.conn.mark_dirty(self)

    async def write(self, data: bytes) -> None:
        """Queue body bytes and wait while this stream has too much unsent data."""
        self.write_nowait(data)
        await self.drain()

    async def drain(self) -> None:
        """Wait while this stream has too much unsent data (StreamGone once it is closed)."""
        while len(self._pending) > HIGH_WATER and not self.closed:
            if self._drained is None:
                self._drained = asyncio.Event()
            self._drained.clear()
            await self._drained.wait()
        if self.closed:
            raise StreamGone(self.stream_id)

    def finish(self) -> None:
        """End the response (END_STREAM) once the queued bytes are out."""
        if self.closed or self.finished:
            return
        self.finished = True
        self.conn.mark_dirty(self)

    def reset(self, error_code: ErrorCodes = ErrorCodes.CANCEL) -> None:
        """RST_STREAM from our side, after what the windows let out of the queued bytes.

        The handler is not told (we decided it).
        """
        if self.closed:
            return
        self.conn.push_now(self)
        self.conn.reset_stream(self.stream_id, error_code)
        self._close()

    @property
    def buffered(self) -> int:
        return len(self._pending)

    # -- used by the connection -------------------------------------------------------

    def push(self, h2conn: h2.connection.H2Connection) -> bool:
        """Move queued bytes into h2 within the windows; True when nothing is left queued."""
        if self.closed:
            return True
        try:
            pending = self._pending
            while pending:
                window = send_window(h2conn, self.stream_id)
                if window <= 0:
                    return False
                if len(pending) <= window:
                    chunk = bytes(pending)
                    pending.clear()
                else:
                    chunk = bytes(pending[:window])
                    del pending[:window]
                send_data(h2conn, self.stream_id, chunk)
            if self._drained is not None and len(self._pending) <= HIGH_WATER:
                self._drained.set()
            if self.finished and not self._end_sent:
                self._end_sent = True
                h2conn.end_stream(self.stream_id)
                self.conn.after_local_end(self)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self._close()
        return True

    def lost(self) -> None:
        """The stream died under us: tell the handler once."""
        if self.closed:
            return
        self._close()
        if self.handler is not None:
            self.handler.stream_lost()

    def _close(self) -> None:
        self.closed = True
        self._pending.clear()
        if self._drained is not None:
            self._drained.set()
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.conn.forget(self)


RouteFn = Callable[[ServerStream], StreamHandler]


class H2ServerConnection(asyncio.Protocol):
    """One client connection: h2c with prior knowledge, or TLS with ALPN h2."""

    def __init__(
        self,
        route: RouteFn,
        settings: ConnectionSettings,
        on_open: Callable[[H2ServerConnection], None],
        on_close: Callable[[H2ServerConnection], None],
    ) -> None:
        self._route = route
        self._settings = settings
        self._on_open = on_open
        self._on_close = on_close
        self._loop = asyncio.get_running_loop()
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self._h2 = h2.connection.H2Connection(config=config)
        self._transport: asyncio.Transport | None = None
        self.streams: dict[int, ServerStream] = {}
        self._dirty: dict[ServerStream, None] = {}
        self._flush_scheduled = False
        self._paused = False
        self._goaway_last: int | None = None
        self._closing = False
        self.tls = False

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop transports are not asyncio.Transport subclasses but have its API.
        self._transport = cast("asyncio.Transport", transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.tls = True
            alpn = ssl_object.selected_alpn_protocol()
            if alpn not in (None, "h2"):
                transport.close()
                return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = self._settings
        self._h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: s.max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 64 * 1024,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: s.initial_window_size,
            },
        )
        self._h2.initiate_connection()
        if s.connection_window_size > _DEFAULT_WINDOW:
            self._h2.increment_flow_control_window(s.connection_window_size - _DEFAULT_WINDOW)
        self._on_open(self)
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            self._abort()
            return
        for event in events:
            self._dispatch(event)
        self._schedule_flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for stream in list(self.streams.values()):
            stream.lost()
        self.streams.clear()
        self._dirty.clear()
        self._on_close(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._schedule_flush()

    # -- events -----------------------------------------------------------------------

    def _dispatch(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._request(event)
        elif isinstance(event, h2.events.DataReceived):
            assert event.stream_id is not None and event.data is not None
            with contextlib.suppress(h2.exceptions.StreamClosedError, KeyError):
                self._h2.acknowledge_received_data(
                    event.flow_controlled_length or 0, event.stream_id
                )
            stream = self.streams.get(event.stream_id)
            if stream is not None and stream.handler is not None and not stream.closed:
                stream.handler.data_received(event.data)
        elif isinstance(event, h2.events.StreamEnded):
            assert event.stream_id is not None
            self._remote_end(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            assert event.stream_id is not None
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.lost()
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            for stream in self.streams.values():
                if stream.buffered or (stream.finished and not stream.closed):
                    self._dirty[stream] = None
        elif isinstance(event, h2.events.ConnectionTerminated):
            # The client's GOAWAY: h2 accepts no more sends on this connection.
            self._abort()

    def _request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        assert stream_id is not None
        if self._goaway_last is not None and stream_id > self._goaway_last:
            self.reset_stream(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        h2_stream = self._h2.streams.get(stream_id)
        if h2_stream is None or h2_stream.closed or self._h2.state_machine.state is _CLOSED:
            # Reset (or the connection closed) in the same read that opened it: h2 handled
            # every frame before this event, so there is nothing left to answer.
            return
        headers: dict[str, str] = {}
        for name, value in event.headers or ():
            key = name.decode() if isinstance(name, bytes) else name
            text = value.decode() if isinstance(value, bytes) else value
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        stream = ServerStream(self, stream_id, headers)
        self.streams[stream_id] = stream
        try:
            stream.handler = self._route(stream)
        except Exception:
            stream.reset(ErrorCodes.INTERNAL_ERROR)
            raise
        if event.stream_ended is not None:
            self._remote_end(stream_id)

    def _remote_end(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is None or stream.remote_ended:
            return
        stream.remote_ended = True
        if stream.handler is not None and not stream.closed:
            stream.handler.end_received()
        if stream._end_sent and not stream.closed:
            stream._close()

    # -- used by streams --------------------------------------------------------------

    def send_headers(self, stream_id: int, headers: list[tuple[str, str]], end: bool) -> None:
        with contextlib.suppress(h2.exceptions.StreamClosedError):
            self._h2.send_headers(stream_id, headers, end_stream=end)
        self._schedule_flush()

    def reset_stream(self, stream_id: int, error_code: ErrorCodes) -> None:
        with contextlib.suppress(h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self._h2.reset_stream(stream_id, error_code)
        self._schedule_flush()

    def push_now(self, stream: ServerStream) -> None:
        if not self._paused and stream.push(self._h2):
            self._dirty.pop(stream, None)

    def mark_dirty(self, stream: ServerStream) -> None:
        self._dirty[stream] = None
        self._schedule_flush()

    def after_local_end(self, stream: ServerStream) -> None:
        """Our END_STREAM is out: close fully, or give the client a grace to end its side.

        HTTP/2 servers such as Go's reset a request the client is still sending once the
        response is complete (RST_STREAM NO_ERROR, RFC 9113 8.1); we do so after a grace.
        """
        if stream.remote_ended:
            stream._close()
            return
        stream._grace = self._loop.call_later(
            self._settings.close_grace, stream.reset, ErrorCodes.NO_ERROR
        )

    def forget(self, stream: ServerStream) -> None:
        self.streams.pop(stream.stream_id, None)
        self._dirty.pop(stream, None)
        if self._goaway_last is not None and not self.streams:
            self._loop.call_soon(self.close)

    # -- writing ----------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._transport is None:
            return
        if not self._paused and self._dirty:
            for stream in list(self._dirty):
                if stream.push(self._h2):
                    self._dirty.pop(stream, None)
        data = self._h2.data_to_send()
        if data:
            self._transport.write(data)

    # -- connection-level actions -----------------------------------------------------

    def goaway(self) -> None:
        """Graceful GOAWAY: refuse new streams, let the open ones finish, then close.

        h2 refuses any send after its own GOAWAY, so the frame is written by hand.
        """
        if self._transport is None or self._goaway_last is not None:
            return
        self._flush()
        self._goaway_last = self._h2.highest_inbound_stream_id
        frame = GoAwayFrame(0, last_stream_id=self._goaway_last, error_code=0)
        self._transport.write(frame.serialize())

    def close(self, error_code: ErrorCodes = ErrorCodes.NO_ERROR) -> None:
        """GOAWAY and close the socket; open streams die (their handlers are told)."""
        if self._transport is None or self._closing:
            return
        self._closing = True
        last = self._goaway_last
        self._flush()  # what the windows allow of the queued bytes goes out first
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._h2.close_connection(error_code, last_stream_id=last)
        self._flush()
        self._transport.close()
        for stream in list(self.streams.values()):
            stream.lost()

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.close()
