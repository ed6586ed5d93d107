"""HTTP/1.1 on the emulator's port, next to HTTP/2, for plain request/response calls.

Cursor's auth endpoints are plain JSON HTTP and its login page is a web page: a browser or
curl reaches them over HTTP/1.1, so the emulator must too. `ProtocolSniffer` decides per
connection: TLS by ALPN (`h2` or `http/1.1`), cleartext by whether the client opens with the
HTTP/2 connection preface (prior knowledge). HTTP/1.1 connections are served by h11 with
keep-alive; Run (bidirectional streaming) needs HTTP/2 and is refused there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import h11

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@dataclass(frozen=True, slots=True)
class PlainRequest:
    """A complete request, whichever HTTP version carried it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    authority: str
    tls: bool

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()


# (HTTP status, content type, body)
PlainResponse = tuple[int, str, bytes]
PlainHandler = Callable[[PlainRequest], PlainResponse]


def split_target(target: str) -> tuple[str, str]:
    path, _, query = target.partition("?")
    return path, query


class Http1Connection(asyncio.Protocol):
    """One HTTP/1.1 client connection; each request is answered when its body is complete."""

    def __init__(self, handle: PlainHandler, max_body: int, on_request: Callable[[], None]) -> None:
        self._handle = handle
        self._max_body = max_body
        self._on_request = on_request
        self._h11 = h11.Connection(h11.SERVER)
        self._transport: asyncio.Transport | None = None
        self._request: h11.Request | None = None
        self._body = bytearray()
        self._tls = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)
        self._tls = transport.get_extra_info("ssl_object") is not None

    def data_received(self, data: bytes) -> None:
        self._h11.receive_data(data)
        self._process()

    def eof_received(self) -> bool | None:
        self._h11.receive_data(b"")
        self._process()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def _process(self) -> None:
        while self._transport is not None:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError:
                self._fail(400, b"bad HTTP/1.1 request")
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._request, self._body = event, bytearray()
                if self._h11.they_are_waiting_for_100_continue:
                    self._send(h11.InformationalResponse(status_code=100, headers=[]))
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self._max_body:
                    self._fail(413, b"body too large")
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._answer()
            elif isinstance(event, h11.ConnectionClosed):
                self._close()
                return

    def _answer(self) -> None:
        request, self._request = self._request, None
        assert request is not None
        self._on_request()
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in request.headers
        }
        path, query = split_target(request.target.decode("latin-1"))
        plain = PlainRequest(
            method=request.method.decode("ascii"),
            path=path,
            query=query,
            headers=headers,
            body=bytes(self._body),
            authority=headers.get("host", ""),
            tls=self._tls,
        )
        status, content_type, body = self._handle(plain)
        self._respond(status, content_type, body)
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
        elif self._h11.our_state is h11.MUST_CLOSE or self._h11.their_state is h11.MUST_CLOSE:
            self._close()

    def _respond(self, status: int, content_type: str, body: bytes) -> None:
        headers = [("content-type", content_type), ("content-length", str(len(body)))]
        self._send(h11.Response(status_code=status, headers=headers))
        if body:
            self._send(h11.Data(data=body))
        self._send(h11.EndOfMessage())

    def _send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data and self._transport is not None:
            self._transport.write(data)

    def _fail(self, status: int, message: bytes) -> None:
        with contextlib.suppress(h11.LocalProtocolError):
            if self._h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                self._respond(status, "text/plain", message)
        self._close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class ProtocolSniffer(asyncio.Protocol):
    """Hands a new connection to the HTTP/2 or the HTTP/1.1 protocol, then steps aside."""

    def __init__(
        self,
        make_h2: Callable[[], asyncio.Protocol],
        make_h1: Callable[[], asyncio.Protocol],
        on_lost: Callable[[ProtocolSniffer], None] = lambda _: None,
    ) -> None:
        self._make_h2 = make_h2
        self._make_h1 = make_h1
        self._on_lost = on_lost
        self._transport: asyncio.BaseTransport | None = None
        self._delegate: asyncio.Protocol | None = None
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            alpn = ssl_object.selected_alpn_protocol()
            self._choose(self._make_h1() if alpn == "http/1.1" else self._make_h2())

    def data_received(self, data: bytes) -> None:
        if self._delegate is not None:
            self._delegate.data_received(data)
            return
        self._buffer += data
        seen = min(len(self._buffer), len(H2_PREFACE))
        if self._buffer[:seen] != H2_PREFACE[:seen]:
            self._choose(self._make_h1())
        elif seen == len(H2_PREFACE):
            self._choose(self._make_h2())

    def _choose(self, protocol: asyncio.Protocol) -> None:
        assert self._transport is not None
        self._delegate = protocol
        protocol.connection_made(self._transport)
        buffered, self._buffer = self._buffer, b""
        if buffered:
            protocol.data_received(buffered)

    def eof_received(self) -> bool | None:
        if self._delegate is not None:
            return self._delegate.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(self)
        if self._delegate is not None:
            self._delegate.connection_lost(exc)

    def close(self) -> None:
        """Drop the connection (HTTP/2 connections are closed gracefully by their owner)."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def pause_writing(self) -> None:
        if self._delegate is not None:
            self._delegate.pause_writing()

    def resume_writing(self) -> None:
        if self._delegate is not None:
            self._delegate.resume_writing()
