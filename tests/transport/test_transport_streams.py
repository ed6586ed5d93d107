"""DuplexStream behaviour against the scripted h2 test server."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from h2.errors import ErrorCodes
from h2_test_server import H2TestServer

from cursor_bridge.transport import (
    BackendPool,
    DuplexStream,
    TransportError,
    TransportTimeout,
)
from cursor_bridge.transport.client_h2 import STREAM_WINDOW

HEADERS = [("content-type", "application/connect+proto")]


async def read_all(stream: DuplexStream) -> bytes:
    chunks = []
    while (chunk := await stream.receive()) is not None:
        chunks.append(chunk)
    return b"".join(chunks)


async def test_echo_interleaves_sends_and_receives_on_one_open_stream(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:
        assert await stream.response_headers() == (200, [("content-type", "test/bytes")])
        for i in range(5):
            message = f"message {i}".encode()
            await stream.send(message)
            # The echo arrives while our request body is still open: true full duplex.
            assert await stream.receive(idle_timeout=5) == message
        await stream.end()
        assert await stream.receive() is None
        assert stream.trailers == [("x-echo-bytes", "45"), ("grpc-status", "0")]


async def test_several_mib_flow_both_ways_under_flow_control(
    server: H2TestServer, pool: BackendPool
) -> None:
    # The test server's windows are the 64 KiB defaults, so send() must wait for credit
    # many times; receiving concurrently keeps the echo flowing back.
    payload = bytes(range(256)) * (6 * 1024 * 1024 // 256)
    async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:

        async def upload() -> None:
            for offset in range(0, len(payload), 1 << 20):
                await stream.send(payload[offset : offset + (1 << 20)])
            await stream.end()

        sender = asyncio.create_task(upload())
        echoed = await read_all(stream)
        await sender
    assert len(echoed) == len(payload)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()


async def test_a_send_blocked_on_flow_control_does_not_block_receiving(
    server: H2TestServer, pool: BackendPool
) -> None:
    stream = await pool.open_stream(server.url("/hold"), HEADERS)
    sender = asyncio.create_task(stream.send(b"x" * 200_000))
    # The server only speaks once our send has run out of window (perhaps more than once).
    assert (await stream.receive(idle_timeout=5) or b"").startswith(b"window exhausted")
    assert not sender.done()
    await stream.cancel()  # also wakes the blocked sender
    with pytest.raises(TransportError, match="cancelled"):
        await sender


async def test_a_reader_that_stops_reading_stops_the_server_after_one_window(
    server: H2TestServer, pool: BackendPool
) -> None:
    size = 4 * STREAM_WINDOW
    async with await pool.open_stream(server.url(f"/flood?bytes={size}"), HEADERS) as stream:
        await stream.end()
        await stream.response_headers()
        await server.flood_blocked.wait()
        assert server.flood_sent <= STREAM_WINDOW
        assert len(await read_all(stream)) == size  # reading releases the rest


async def test_receive_times_out_when_the_server_goes_quiet(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/stall-after-headers"), HEADERS) as stream:
        assert (await stream.response_headers())[0] == 200
        with pytest.raises(TransportTimeout):
            await stream.receive(idle_timeout=0.05)
        with pytest.raises(TransportTimeout):  # the stream is still usable afterwards
            await stream.receive(idle_timeout=0.05)


async def test_a_short_idle_timeout_after_a_long_one_still_fires_on_time(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:
        await stream.send(b"ping")
        assert await stream.receive(idle_timeout=60) == b"ping"
        started = asyncio.get_running_loop().time()
        with pytest.raises(TransportTimeout):
            await stream.receive(idle_timeout=0.05)
        # Not the 60 s timer armed by the first call.
        assert asyncio.get_running_loop().time() - started < 30


async def test_server_reset_fails_the_stream(server: H2TestServer, pool: BackendPool) -> None:
    stream = await pool.open_stream(server.url("/reset"), HEADERS)
    with pytest.raises(TransportError, match="INTERNAL_ERROR"):
        await stream.response_headers()
    with pytest.raises(TransportError):
        await stream.receive()
    with pytest.raises(TransportError):
        await stream.send(b"late")
    await stream.cancel()  # harmless after the stream died


async def test_cancel_sends_rst_stream_cancel_once(server: H2TestServer, pool: BackendPool) -> None:
    stream = await pool.open_stream(server.url("/stall-after-headers"), HEADERS)
    await stream.response_headers()
    await stream.cancel()
    await stream.cancel()
    await server.wait_until(lambda: len(server.resets) > 0)
    assert server.resets == [(stream.stream_id, ErrorCodes.CANCEL)]
    with pytest.raises(TransportError, match="cancelled"):
        await stream.receive()


async def test_leaving_the_context_cancels_an_open_stream_but_not_a_finished_one(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/echo"), HEADERS) as finished:
        await finished.end()
        assert await read_all(finished) == b""
    async with await pool.open_stream(server.url("/stall"), HEADERS) as abandoned:
        pass
    await server.wait_until(lambda: len(server.resets) > 0)
    assert server.resets == [(abandoned.stream_id, ErrorCodes.CANCEL)]


async def test_cancel_wakes_a_blocked_receiver(server: H2TestServer, pool: BackendPool) -> None:
    stream = await pool.open_stream(server.url("/stall"), HEADERS)
    receiver = asyncio.create_task(stream.receive())
    headers = asyncio.create_task(stream.response_headers())
    await asyncio.sleep(0)  # let both start waiting
    await stream.cancel()
    with pytest.raises(TransportError):
        await receiver
    with pytest.raises(TransportError):
        await headers


async def test_unary_call_returns_the_whole_response(
    server: H2TestServer, pool: BackendPool
) -> None:
    response = await pool.unary(server.url("/unary"), HEADERS, b"hello")
    assert response.status == 200
    assert response.body == b"got:hello"
    assert response.trailers is None
    with pytest.raises(TransportTimeout):
        await pool.unary(server.url("/stall"), HEADERS, b"", timeout=0.05)


async def test_abrupt_socket_close_fails_every_open_stream(
    server: H2TestServer, pool: BackendPool
) -> None:
    streams = [
        await pool.open_stream(server.url("/stall-after-headers"), HEADERS) for _ in range(3)
    ]
    for stream in streams:
        await stream.response_headers()
    receivers = [asyncio.create_task(s.receive()) for s in streams]
    server.abort_connections()
    for receiver in receivers:
        with pytest.raises(TransportError, match="lost"):
            await receiver
    with pytest.raises(TransportError):
        await streams[0].send(b"x")
    # The next stream transparently gets a fresh connection.
    response = await pool.unary(server.url("/unary"), HEADERS, b"again")
    assert response.body == b"got:again"
    assert pool.connections_opened == 2


async def test_server_dropping_the_connection_mid_request(
    server: H2TestServer, pool: BackendPool
) -> None:
    stream = await pool.open_stream(server.url("/drop"), HEADERS)
    with pytest.raises(TransportError):
        await stream.response_headers()


async def test_aclose_fails_open_streams_and_refuses_new_ones(
    server: H2TestServer, pool: BackendPool
) -> None:
    stream = await pool.open_stream(server.url("/stall-after-headers"), HEADERS)
    await stream.response_headers()
    receiver = asyncio.create_task(stream.receive())
    await pool.aclose()
    with pytest.raises(TransportError):
        await receiver
    with pytest.raises(TransportError, match="closed"):
        await pool.open_stream(server.url("/echo"), HEADERS)
    await server.wait_until(lambda: server.live_connections == 0)


async def test_frames_that_arrived_together_are_received_joined(
    server: H2TestServer, pool: BackendPool
) -> None:
    stream = await pool.open_stream(server.url("/echo"), HEADERS)
    for part in (b"one ", b"two ", b"three"):
        await stream.send(part)  # echoed back as one DATA frame each
    await stream.end()
    # A later request on the same connection is answered after the echoes went out, so
    # once it is complete they have all arrived, unread.
    barrier = await pool.unary(server.url("/unary"), HEADERS, b"barrier")
    assert barrier.body == b"got:barrier"
    assert await stream.receive() == b"one two three"
    assert await stream.receive() is None
    assert stream.trailers is not None and ("x-echo-bytes", "13") in stream.trailers
