"""A small asyncio + h2 server with scripted misbehaviour, for transport tests.

Paths (all take POST):
- `/echo`: 200 at once, echoes every DATA chunk as it arrives, ends with trailers
  (`x-echo-bytes`, `grpc-status`) after the client ends. A chunk `!goaway` first
  makes the server send GOAWAY naming this stream as the last one it processes.
- `/unary`: collects the body, then answers `got:<body>` without trailers.
- `/flood?bytes=N`: 200 and N bytes, honouring the client's flow control;
  `flood_sent` counts what went out, `flood_blocked` is set when the window stops it.
- `/hold`: 200 at once, but never returns flow-control credit for the request body;
  once the client has used up the 64 KiB window it sends `window exhausted`.
- `/stall`: never answers. `/stall-after-headers`: sends 200, then nothing.
- `/reset`: RST_STREAM (INTERNAL_ERROR) as soon as the request arrives.
- `/drop`: aborts the TCP connection as soon as the request arrives.

Whole-server controls: `freeze()` stops reading on existing connections (so a PING
goes unanswered), `abort_connections()` kills every socket.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    DataReceived,
    PingReceived,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import H2Error
from h2.settings import SettingCodes, Settings
from hyperframe.frame import GoAwayFrame


@dataclass
class _Outbound:
    """Bytes waiting for flow-control credit, and how to finish afterwards."""

    buffer: bytearray = field(default_factory=bytearray)
    end: bool = False
    trailers: list[tuple[str, str]] | None = None
    flood: bool = False


@dataclass
class _Request:
    path: str
    body: bytearray = field(default_factory=bytearray)


class _ServerConnection(asyncio.Protocol):
    def __init__(self, server: H2TestServer) -> None:
        self.server = server
        self.h2 = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport: asyncio.Transport | None = None
        self.requests: dict[int, _Request] = {}
        self.outbound: dict[int, _Outbound] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.append(self)
        self.h2.local_settings = Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: self.server.max_concurrent_streams,
                SettingCodes.MAX_HEADER_LIST_SIZE: 1 << 16,
            },
        )
        self.h2.initiate_connection()
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.changed()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except H2Error:
            self.flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, RequestReceived):
                self.on_request(event)
            elif isinstance(event, DataReceived):
                self.on_data(event)
            elif isinstance(event, StreamEnded):
                self.on_request_end(event.stream_id)
            elif isinstance(event, StreamReset):
                self.server.resets.append((event.stream_id, int(event.error_code)))
                self.outbound.pop(event.stream_id, None)
                self.server.changed()
            elif isinstance(event, WindowUpdated):
                self.pump_all() if event.stream_id == 0 else self.pump(event.stream_id)
            elif isinstance(event, RemoteSettingsChanged):
                self.pump_all()
            elif isinstance(event, PingReceived):
                self.server.pings += 1
                self.server.changed()
        self.flush()

    def on_request(self, event: RequestReceived) -> None:
        stream_id = event.stream_id
        # header_encoding="utf-8" makes these str; h2's annotations say bytes.
        headers: dict[object, object] = dict(event.headers)
        path = str(headers[":path"])
        self.requests[stream_id] = _Request(path)
        route = urlsplit(path).path
        if route in ("/echo", "/stall-after-headers", "/hold"):
            self.respond(stream_id)
        elif route == "/flood":
            size = int(parse_qs(urlsplit(path).query)["bytes"][0])
            self.respond(stream_id)
            self.outbound[stream_id] = _Outbound(bytearray(b"f" * size), end=True, flood=True)
            self.pump(stream_id)
        elif route == "/reset":
            self.h2.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)
        elif route == "/drop":
            assert self.transport is not None
            self.transport.abort()

    def on_data(self, event: DataReceived) -> None:
        stream_id = event.stream_id
        request = self.requests[stream_id]
        request.body += event.data
        if request.path == "/hold":
            if self.h2.remote_flow_control_window(stream_id) == 0:
                self.queue(stream_id, b"window exhausted")
            return
        self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
        if request.path == "/echo":
            if event.data == b"!goaway":
                self.flush()  # GOAWAY must follow what h2 already queued
                frame = GoAwayFrame(0, last_stream_id=stream_id, error_code=0)
                assert self.transport is not None
                self.transport.write(frame.serialize())
            self.queue(stream_id, event.data)

    def on_request_end(self, stream_id: int) -> None:
        request = self.requests[stream_id]
        if request.path == "/echo":
            self.finish(stream_id, [("x-echo-bytes", str(len(request.body))), ("grpc-status", "0")])
        elif request.path == "/unary":
            self.respond(stream_id)
            self.queue(stream_id, b"got:" + bytes(request.body))
            self.finish(stream_id, None)

    def respond(self, stream_id: int) -> None:
        self.h2.send_headers(stream_id, [(":status", "200"), ("content-type", "test/bytes")])

    def queue(self, stream_id: int, data: bytes) -> None:
        self.outbound.setdefault(stream_id, _Outbound()).buffer += data
        self.pump(stream_id)

    def finish(self, stream_id: int, trailers: list[tuple[str, str]] | None) -> None:
        outbound = self.outbound.setdefault(stream_id, _Outbound())
        outbound.end = True
        outbound.trailers = trailers
        self.pump(stream_id)

    def pump_all(self) -> None:
        for stream_id in list(self.outbound):
            self.pump(stream_id)

    def pump(self, stream_id: int) -> None:
        """Send what the client's windows allow; finish the stream once drained."""
        outbound = self.outbound.get(stream_id)
        if outbound is None:
            return
        try:
            while outbound.buffer:
                window = self.h2.local_flow_control_window(stream_id)
                if window <= 0:
                    if outbound.flood:
                        self.server.flood_blocked.set()
                    return
                size = min(window, self.h2.max_outbound_frame_size, len(outbound.buffer))
                self.h2.send_data(stream_id, bytes(outbound.buffer[:size]))
                del outbound.buffer[:size]
                if outbound.flood:
                    self.server.flood_sent += size
            if outbound.end:
                del self.outbound[stream_id]
                if outbound.trailers is not None:
                    self.h2.send_headers(stream_id, outbound.trailers, end_stream=True)
                else:
                    self.h2.end_stream(stream_id)
        except H2Error:
            self.outbound.pop(stream_id, None)  # the client reset or closed it
        finally:
            self.flush()


class H2TestServer:
    """An HTTP/2 server on 127.0.0.1 (h2c, or TLS when given an ssl context)."""

    def __init__(
        self, *, max_concurrent_streams: int = 1000, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.max_concurrent_streams = max_concurrent_streams
        self.ssl_context = ssl_context
        self.connections: list[_ServerConnection] = []
        self.resets: list[tuple[int, int]] = []
        self.pings = 0
        self.flood_sent = 0
        self.flood_blocked = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ServerConnection(self), "127.0.0.1", 0, ssl=self.ssl_context
        )

    async def stop(self) -> None:
        self.abort_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, path: str) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    @property
    def live_connections(self) -> int:
        return sum(
            c.transport is not None and not c.transport.is_closing() for c in self.connections
        )

    def freeze(self) -> None:
        """Stop reading on every existing connection: the peer looks alive but mute."""
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.pause_reading()

    def abort_connections(self) -> None:
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.abort()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds; re-checked whenever the server records something."""
        if predicate():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, waiter))
        await waiter

    def changed(self) -> None:
        for entry in list(self._waiters):
            predicate, waiter = entry
            if waiter.done():
                self._waiters.remove(entry)
            elif predicate():
                waiter.set_result(None)
                self._waiters.remove(entry)
