"""A small HTTP/2 client for the emulator tests, written on `h2` directly.

It does not depend on cursor_bridge.transport (written separately): the tests drive the
emulator over real sockets with it; run_driver.py plays the client side of a Run on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions

CLIENT_VERSION = "cli-2026.07.09-a3815c0"
END = object()  # queued after the last chunk of a stream


class ClientStream:
    def __init__(self, client: H2Client, stream_id: int) -> None:
        self.client = client
        self.stream_id = stream_id
        self.response: asyncio.Future[tuple[int, dict[str, str]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.chunks: asyncio.Queue[bytes | object] = asyncio.Queue()
        self.reset_code: int | None = None
        self.ended = False  # the server's side ended (END_STREAM, reset or connection lost)
        self.local_ended = False

    async def send(self, data: bytes, *, end: bool = False) -> None:
        await self.client.send_data(self.stream_id, data, end)

    async def end(self) -> None:
        """Half-close our side (END_STREAM), once."""
        if self.local_ended or self.reset_code is not None:
            return
        self.local_ended = True
        with contextlib.suppress(h2.exceptions.StreamClosedError):
            await self.client.send_data(self.stream_id, b"", True)

    def reset(self, code: int = 8) -> None:
        self.client.reset(self.stream_id, code)

    async def status(self) -> int:
        status, _ = await self.response
        return status

    async def body(self) -> bytes:
        out = bytearray()
        while True:
            item = await self.chunks.get()
            if item is END:
                return bytes(out)
            assert isinstance(item, bytes)
            out += item


class _GoawayTolerantConnection(h2.connection.H2Connection):
    """h2 closes its state machine at a GOAWAY, even a graceful one; keep it open."""

    def _receive_goaway_frame(self, frame: Any) -> Any:
        result = super()._receive_goaway_frame(frame)
        self.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        return result


class H2Client:
    """One h2c (or TLS) connection. `tolerate_goaway` keeps streams usable after a GOAWAY
    (h2 itself refuses any frame after one; a graceful GOAWAY lets open streams finish)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tolerate_goaway: bool
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.tolerate_goaway = tolerate_goaway
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        factory = _GoawayTolerantConnection if tolerate_goaway else h2.connection.H2Connection
        self.conn = factory(config=config)
        self.conn.initiate_connection()
        self.streams: dict[int, ClientStream] = {}
        self.goaway: asyncio.Future[h2.events.ConnectionTerminated] = (
            asyncio.get_running_loop().create_future()
        )
        self.closed = asyncio.Event()
        self.error: Exception | None = None
        self._window = asyncio.Event()
        self._flush()
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(
        cls, port: int, *, ssl_context: ssl.SSLContext | None = None, tolerate_goaway: bool = False
    ) -> H2Client:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ssl_context, server_hostname="localhost" if ssl_context else None
        )
        return cls(reader, writer, tolerate_goaway)

    async def close(self) -> None:
        self.writer.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()

    async def __aenter__(self) -> H2Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for event in self.conn.receive_data(data):
                    self._dispatch(event)
                self._flush()
        except (ConnectionError, h2.exceptions.ProtocolError, ssl.SSLError) as exc:
            self.error = exc
        finally:
            self.closed.set()
            for stream in self.streams.values():
                if not stream.ended:
                    stream.ended = True
                    stream.chunks.put_nowait(END)
                if not stream.response.done():
                    stream.response.set_exception(ConnectionError("connection closed"))

    def _dispatch(self, event: h2.events.Event) -> None:
        stream = self.streams.get(getattr(event, "stream_id", None) or 0)
        if isinstance(event, h2.events.ResponseReceived) and stream is not None:
            headers = {str(k): str(v) for k, v in event.headers or ()}
            stream.response.set_result((int(headers[":status"]), headers))
        elif isinstance(event, h2.events.DataReceived) and stream is not None:
            assert event.data is not None and event.stream_id is not None
            self.conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
            stream.chunks.put_nowait(event.data)
        elif isinstance(event, h2.events.StreamEnded) and stream is not None:
            stream.ended = True
            stream.chunks.put_nowait(END)
        elif isinstance(event, h2.events.StreamReset) and stream is not None:
            stream.reset_code = int(event.error_code or 0)
            if not stream.ended:
                stream.ended = True
                stream.chunks.put_nowait(END)
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self._window.set()
        elif isinstance(event, h2.events.ConnectionTerminated) and not self.goaway.done():
            self.goaway.set_result(event)

    async def open(self, path: str, headers: list[tuple[str, str]], *, end: bool) -> ClientStream:
        stream_id = self.conn.get_next_available_stream_id()
        stream = ClientStream(self, stream_id)
        self.streams[stream_id] = stream
        base = [
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "localhost"),
            (":path", path),
        ]
        if any(name == ":method" for name, _ in headers):
            base = [(n, v) for n, v in base if n != ":method"]
        self.conn.send_headers(stream_id, [*base, *headers], end_stream=end)
        self._flush()
        return stream

    async def send_data(self, stream_id: int, data: bytes, end: bool) -> None:
        view = memoryview(data)
        while True:
            window = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
            if len(view) and window <= 0:
                self._window.clear()
                await self._window.wait()
                continue
            chunk, view = view[:window], view[window:]
            last = end and not len(view)
            self.conn.send_data(stream_id, bytes(chunk), end_stream=last)
            self._flush()
            if not len(view):
                return

    def reset(self, stream_id: int, code: int) -> None:
        try:
            self.conn.reset_stream(stream_id, code)
        except h2.exceptions.StreamClosedError:
            return
        self._flush()

    async def unary(
        self, path: str, body: bytes, headers: list[tuple[str, str]], method: str = "POST"
    ) -> tuple[int, dict[str, str], bytes]:
        stream = await self.open(path, [(":method", method), *headers], end=not body)
        if body:
            await stream.send(body, end=True)
        status, response_headers = await stream.response
        return status, response_headers, await stream.body()


def run_headers(token: str | None = None, **overrides: str | None) -> list[tuple[str, str]]:
    values: dict[str, str | None] = {
        "content-type": "application/connect+proto",
        "connect-protocol-version": "1",
        "x-cursor-client-version": CLIENT_VERSION,
        "x-cursor-client-type": "cli",
        "x-ghost-mode": "true",
        "x-cursor-streaming": "true",
        "te": "trailers",
    }
    if token is not None:
        values["authorization"] = f"Bearer {token}"
    values.update(overrides)
    return [(k, v) for k, v in values.items() if v is not None]
