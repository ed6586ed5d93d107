"""BackendPool: hands out HTTP/2 streams, reusing one connection per origin.

Connection choice for a new stream, per origin:
1. Take the oldest live connection that accepts streams and is below the server's
   MAX_CONCURRENT_STREAMS. If nothing arrived on it for `idle_ping_after` seconds,
   PING it first; without an ACK within `ping_timeout` it is dropped and the
   search starts over.
2. Connections older than `max_connection_age`, or that received GOAWAY, take no new
   streams; their in-flight streams finish and then they close.
3. When every connection is full, open one more (connects to one origin are
   serialised, so a burst of callers opens one connection at a time, not one each).
   So MAX_CONCURRENT_STREAMS never makes a caller wait for another stream to end,
   at the price of extra connections when the server's limit is low.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from .connection import Connection, NoStreamCapacity
from .errors import TransportError, TransportTimeout
from .origin import Origin, parse_url
from .stream import DuplexStream

__all__ = ["BackendPool", "UnaryResponse"]

_CLOSE_GRACE = 1.0


@dataclass(frozen=True, slots=True)
class UnaryResponse:
    """A complete request/response exchange."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    trailers: list[tuple[str, str]] | None = None


def default_ssl_context() -> ssl.SSLContext:
    """System trust store, ALPN offering only h2."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["h2"])
    return context


class BackendPool:
    """HTTP/2 streams to any number of origins: `http://` is h2c with prior
    knowledge, `https://` is TLS with ALPN h2.

    A given `ssl_context` must offer ALPN "h2" (`set_alpn_protocols(["h2"])`);
    connecting fails with ConnectFailed if the server does not select it.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10,
        ping_timeout: float = 5,
        max_connection_age: float = 900,
        idle_ping_after: float = 30,
        max_streams_per_connection: int = 24,
    ) -> None:
        self._ssl_context = ssl_context
        self._connect_timeout = connect_timeout
        self._ping_timeout = ping_timeout
        self._max_connection_age = max_connection_age
        self._idle_ping_after = idle_ping_after
        # Below the server's SETTINGS limit on purpose: Cursor closes a whole connection that
        # carries more concurrent Runs than its (undisclosed) ceiling; the current client
        # stays at 24 per connection, "well below" it (current-client.md §7).
        self._stream_cap = max_streams_per_connection
        self._connections: dict[Origin, list[Connection]] = {}
        self._connect_locks: dict[Origin, asyncio.Lock] = {}
        self._closed = False
        self.connections_opened = 0
        """Connections successfully established so far (for tests and benchmarks)."""

    async def open_stream(self, url: str, headers: list[tuple[str, str]]) -> DuplexStream:
        """Start a POST to `url` with `headers` (lowercase names, no pseudo-headers).

        The request body stays open: write with `send()`, finish with `end()`.
        Raises ConnectFailed, TransportError (e.g. pool closed), ValueError (bad URL).
        """
        ready = self.stream_now(url, headers)
        if ready is not None:
            return ready
        origin, path = parse_url(url)
        while True:
            connection = await self._connection_for(origin)
            try:
                return connection.start_stream(path, headers)
            except NoStreamCapacity:
                continue  # the server lowered its limit under us: choose again

    def stream_now(self, url: str, headers: list[tuple[str, str]]) -> DuplexStream | None:
        """`open_stream` in its usual case, without a coroutine: a ready connection that
        needs no PING (what `_connection_for` returns at once then); None when that does
        not hold (then `open_stream` chooses, connects or pings as it must).
        Raises TransportError, ValueError (bad URL)."""
        origin, path = parse_url(url)
        if self._closed:
            return None
        ready = self._ready_connection(origin)
        if ready is not None and ready.idle_for() <= self._idle_ping_after:
            try:
                return ready.start_stream(path, headers)
            except NoStreamCapacity:
                pass  # the server lowered its limit under us: `open_stream` chooses again
        return None

    async def unary(
        self,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout: float = 30,  # noqa: ASYNC109 -- a per-call deadline is part of the contract
    ) -> UnaryResponse:
        """POST `body` and read the whole response within `timeout` seconds.

        Raises TransportTimeout when the deadline passes, TransportError otherwise.
        """
        try:
            async with asyncio.timeout(timeout):
                async with await self.open_stream(url, headers) as stream:
                    if body:
                        await stream.send(body)
                    await stream.end()
                    status, response_headers = await stream.response_headers()
                    chunks = []
                    while (chunk := await stream.receive()) is not None:
                        chunks.append(chunk)
                    return UnaryResponse(
                        status, response_headers, b"".join(chunks), stream.trailers
                    )
        except TimeoutError:
            raise TransportTimeout(
                f"POST {url}: no complete response within {timeout} seconds"
            ) from None

    async def aclose(self) -> None:
        """Close every connection (GOAWAY, then close); open streams fail. Idempotent."""
        self._closed = True
        connections = [c for group in self._connections.values() for c in group]
        self._connections.clear()
        for connection in connections:
            connection.close()
        await asyncio.gather(*(c.wait_closed(_CLOSE_GRACE) for c in connections))

    @property
    def open_connections(self) -> int:
        """Live connections, draining ones included."""
        return sum(not c.closed for group in self._connections.values() for c in group)

    async def __aenter__(self) -> BackendPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- choosing a connection -------------------------------------------------

    async def _connection_for(self, origin: Origin) -> Connection:
        """A connection with room for one more stream, returned without yielding
        after the capacity check so the caller can use that room at once."""
        while True:
            self._raise_if_closed()
            connection = self._ready_connection(origin)
            if connection is None:
                lock = self._connect_locks.setdefault(origin, asyncio.Lock())
                async with lock:
                    self._raise_if_closed()
                    connection = self._ready_connection(origin)
                    if connection is None:
                        return await self._connect(origin)
            if connection.idle_for() > self._idle_ping_after:
                if not await connection.ping(self._ping_timeout):
                    continue  # the ping aborted the connection: choose again
                if not self._has_room(connection):
                    continue  # others took the room while we waited for the ACK
            return connection

    def _ready_connection(self, origin: Origin) -> Connection | None:
        group = self._connections.get(origin)
        if not group:
            return None
        now = group[0].loop.time()  # the running loop (asking asyncio costs a getpid())
        ready = None
        dead: list[Connection] | None = None
        max_age, cap = self._max_connection_age, self._stream_cap
        # One pass over the group (no copy of it: nothing below changes it), dropping the
        # dead connections after it.
        for connection in group:
            if connection.closed:
                if dead is None:
                    dead = []
                dead.append(connection)
            elif not connection.accepting_streams:
                continue
            elif now - connection.created_at > max_age:
                connection.retire()
            elif ready is None and connection.has_capacity() and connection.stream_count < cap:
                ready = connection  # `_has_room`, inlined
        if dead is not None:
            for connection in dead:
                group.remove(connection)
        return ready

    def _has_room(self, connection: Connection) -> bool:
        return connection.has_capacity() and connection.stream_count < self._stream_cap

    async def _connect(self, origin: Origin) -> Connection:
        ssl_context = None
        if origin.tls:
            if self._ssl_context is None:
                self._ssl_context = default_ssl_context()
            ssl_context = self._ssl_context
        connection = await Connection.open(origin, ssl_context, self._connect_timeout)
        if self._closed:
            connection.close()
            self._raise_if_closed()
        if connection.max_concurrent_streams < 1:
            connection.close()
            raise TransportError(f"{origin}: server allows no concurrent streams")
        self.connections_opened += 1
        self._connections.setdefault(origin, []).append(connection)
        return connection

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise TransportError("BackendPool is closed")
