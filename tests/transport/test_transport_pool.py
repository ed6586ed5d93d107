"""BackendPool: connection reuse, limits, rotation, liveness checks, TLS."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from h2_test_server import H2TestServer

from cursor_bridge.transport import (
    BackendPool,
    ConnectFailed,
    DuplexStream,
    TransportError,
)

HEADERS = [("content-type", "application/connect+proto")]


async def echo_round_trip(stream: DuplexStream, message: bytes) -> None:
    await stream.send(message)
    assert await stream.receive(idle_timeout=10) == message


async def finish_echo(stream: DuplexStream) -> None:
    await stream.end()
    while await stream.receive(idle_timeout=10) is not None:
        pass


async def test_300_concurrent_streams_share_one_connection(
    server: H2TestServer, pool: BackendPool
) -> None:
    async def conversation(i: int) -> None:
        async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:
            await echo_round_trip(stream, b"first %d" % i)
            await echo_round_trip(stream, b"second %d" % i)
            await finish_echo(stream)
            assert stream.trailers is not None

    await asyncio.gather(*(conversation(i) for i in range(300)))
    assert pool.connections_opened == 1


async def test_full_connection_makes_room_on_another_connection(pool: BackendPool) -> None:
    server = H2TestServer(max_concurrent_streams=10)
    await server.start()
    try:
        streams = await asyncio.gather(
            *(pool.open_stream(server.url("/echo"), HEADERS) for _ in range(25))
        )
        assert pool.connections_opened == 3
        await asyncio.gather(*(echo_round_trip(s, b"hi") for s in streams))
        await asyncio.gather(*(finish_echo(s) for s in streams))
        # With all streams finished, the first connection has room again.
        stream = await pool.open_stream(server.url("/echo"), HEADERS)
        await finish_echo(stream)
        assert pool.connections_opened == 3
    finally:
        await server.stop()


async def test_a_lowered_stream_limit_is_followed_by_the_pool(pool: BackendPool) -> None:
    """The server lowers MAX_CONCURRENT_STREAMS on a live connection: the next streams
    that would exceed it go to a new connection."""
    from h2.settings import SettingCodes

    server = H2TestServer(max_concurrent_streams=10)
    await server.start()
    try:
        first = await pool.open_stream(server.url("/echo"), HEADERS)
        await echo_round_trip(first, b"hi")
        (connection,) = [c for group in pool._connections.values() for c in group]
        assert connection.max_concurrent_streams == 10
        (peer,) = server.connections
        peer.h2.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: 2})
        peer.flush()
        await echo_round_trip(first, b"after the settings")  # they arrived before the echo
        assert connection.max_concurrent_streams == 2
        second = await pool.open_stream(server.url("/echo"), HEADERS)
        third = await pool.open_stream(server.url("/echo"), HEADERS)
        assert pool.connections_opened == 2
        for stream in (first, second, third):
            await finish_echo(stream)
    finally:
        await server.stop()


async def test_goaway_moves_new_streams_to_a_new_connection(
    server: H2TestServer, pool: BackendPool
) -> None:
    survivor = await pool.open_stream(server.url("/echo"), HEADERS)
    refused = await pool.open_stream(server.url("/echo"), HEADERS)
    await echo_round_trip(survivor, b"before")
    await echo_round_trip(refused, b"before")
    # The server sends GOAWAY(last_stream_id=survivor) ahead of this echo, so once the
    # echo is back the pool has seen the GOAWAY.
    await echo_round_trip(survivor, b"!goaway")
    with pytest.raises(TransportError, match="GOAWAY"):
        await refused.receive()

    newcomer = await pool.open_stream(server.url("/echo"), HEADERS)
    assert pool.connections_opened == 2
    await echo_round_trip(newcomer, b"on the new connection")
    await echo_round_trip(survivor, b"still flowing after GOAWAY")
    await finish_echo(survivor)
    assert survivor.trailers == [("x-echo-bytes", "39"), ("grpc-status", "0")]
    await finish_echo(newcomer)
    # The old connection closes once its last stream is done.
    await server.wait_until(lambda: server.live_connections == 1)


async def test_old_connections_take_no_new_streams(server: H2TestServer) -> None:
    async with BackendPool(max_connection_age=0) as pool:
        first = await pool.open_stream(server.url("/echo"), HEADERS)
        second = await pool.open_stream(server.url("/echo"), HEADERS)
        assert pool.connections_opened == 2
        await echo_round_trip(first, b"the aged connection keeps serving its stream")
        await finish_echo(first)
        await finish_echo(second)


async def test_idle_connection_is_pinged_before_reuse(server: H2TestServer) -> None:
    async with BackendPool(idle_ping_after=0) as pool:
        await pool.unary(server.url("/unary"), HEADERS, b"one")
        await pool.unary(server.url("/unary"), HEADERS, b"two")
        assert server.pings >= 1
        assert pool.connections_opened == 1


async def test_unanswered_ping_replaces_the_connection(server: H2TestServer) -> None:
    async with BackendPool(idle_ping_after=0, ping_timeout=0.1) as pool:
        await pool.unary(server.url("/unary"), HEADERS, b"one")
        server.freeze()  # the old connection stays up but never answers again
        response = await pool.unary(server.url("/unary"), HEADERS, b"two")
        assert response.body == b"got:two"
        assert pool.connections_opened == 2


async def test_a_stream_at_once_only_on_a_ready_connection_that_needs_no_ping(
    server: H2TestServer,
) -> None:
    """`stream_now` (a Run's stream without a coroutine) answers None wherever
    `open_stream` would connect, ping or refuse: it never skips those."""
    url = server.url("/echo")
    async with BackendPool() as pool:
        assert pool.stream_now(url, HEADERS) is None  # no connection yet: open_stream connects
        first = await pool.open_stream(url, HEADERS)
        stream = pool.stream_now(url, HEADERS)
        assert stream is not None and pool.connections_opened == 1
        await echo_round_trip(stream, b"at once")
        await finish_echo(stream)
        await finish_echo(first)
    async with BackendPool(idle_ping_after=0) as pool:
        first = await pool.open_stream(url, HEADERS)
        await asyncio.sleep(0.01)
        assert pool.stream_now(url, HEADERS) is None  # idle: open_stream pings first
        await finish_echo(first)
    async with BackendPool(max_streams_per_connection=1) as pool:
        first = await pool.open_stream(url, HEADERS)
        assert pool.stream_now(url, HEADERS) is None  # full: open_stream opens another
        await finish_echo(first)
    async with BackendPool(max_connection_age=0) as pool:
        first = await pool.open_stream(url, HEADERS)
        assert pool.stream_now(url, HEADERS) is None  # too old: retired
        await finish_echo(first)
    pool = BackendPool()
    await pool.open_stream(url, HEADERS)
    await pool.aclose()
    assert pool.stream_now(url, HEADERS) is None  # closed: open_stream raises
    with pytest.raises(TransportError):
        await pool.open_stream(url, HEADERS)


async def test_connect_to_a_closed_port_fails_clearly(pool: BackendPool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectFailed):
        await pool.open_stream(f"http://127.0.0.1:{port}/echo", HEADERS)


async def test_connect_times_out_when_the_server_never_speaks_http2(pool: BackendPool) -> None:
    accepted: list[asyncio.BaseTransport] = []

    class Silent(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.append(transport)

    loop = asyncio.get_running_loop()
    silent = await loop.create_server(Silent, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        async with BackendPool(connect_timeout=0.1) as short:
            with pytest.raises(ConnectFailed, match="no HTTP/2 connection"):
                await short.open_stream(f"http://127.0.0.1:{port}/", HEADERS)
    finally:
        for transport in accepted:
            transport.close()
        silent.close()
        await silent.wait_closed()


# -- TLS ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command-line tool is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path], alpn: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.set_alpn_protocols(alpn)
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    context.set_alpn_protocols(["h2"])
    return context


async def tls_server(certificate: tuple[Path, Path], alpn: list[str]) -> H2TestServer:
    server = H2TestServer(ssl_context=server_context(certificate, alpn))
    await server.start()
    return server


@pytest.fixture
async def tls_pool(certificate: tuple[Path, Path]) -> AsyncIterator[BackendPool]:
    async with BackendPool(ssl_context=client_context(certificate)) as pool:
        yield pool


async def test_https_negotiates_h2_with_alpn(
    certificate: tuple[Path, Path], tls_pool: BackendPool
) -> None:
    server = await tls_server(certificate, ["h2"])
    try:
        async with await tls_pool.open_stream(server.url("/echo"), HEADERS) as stream:
            await echo_round_trip(stream, b"over TLS")
            await finish_echo(stream)
        response = await tls_pool.unary(server.url("/unary"), HEADERS, b"tls")
        assert response.body == b"got:tls"
        assert tls_pool.connections_opened == 1
    finally:
        await server.stop()


async def test_https_server_without_h2_is_refused(
    certificate: tuple[Path, Path], tls_pool: BackendPool
) -> None:
    server = await tls_server(certificate, ["http/1.1"])
    try:
        with pytest.raises(ConnectFailed, match="ALPN"):
            await tls_pool.open_stream(server.url("/echo"), HEADERS)
    finally:
        await server.stop()


async def test_https_with_an_untrusted_certificate_fails_to_connect(
    certificate: tuple[Path, Path], pool: BackendPool
) -> None:
    server = await tls_server(certificate, ["h2"])
    try:
        with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await pool.open_stream(server.url("/echo"), HEADERS)  # system trust store
    finally:
        await server.stop()
