"""DuplexStream.consume_inline: inbound DATA read in the socket callback."""

from __future__ import annotations

import asyncio

from h2_test_server import H2TestServer

from cursor_bridge.transport import BackendPool, DuplexStream

HEADERS = [("content-type", "application/connect+proto")]


async def test_a_consumer_answers_in_the_callback_and_wakes_the_reader_when_asked(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:
        await stream.response_headers()
        seen: list[bytes] = []

        def consume(data: bytes) -> bool:
            seen.append(data)
            if len(seen) == 4:
                return True
            answer = data + b"+"
            assert stream.can_send_now(len(answer))
            stream.send_now(answer)  # echoed back: a round trip with no task involved
            return False

        stream.consume_inline(consume)
        await stream.send(b"x")
        assert await stream.receive(idle_timeout=5) == b""
        assert seen == [b"x", b"x+", b"x++", b"x+++"]
        stream.consume_inline(None)
        await stream.send(b"after")
        assert await stream.receive(idle_timeout=5) == b"after"
        assert len(seen) == 4


async def test_buffered_data_keeps_later_data_out_of_the_consumer(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:
        await stream.response_headers()
        await stream.send(b"first")
        await _until_buffered(stream)
        consumed: list[bytes] = []
        stream.consume_inline(lambda data: consumed.append(data) is None)
        await stream.send(b"second")
        await _until_buffered(stream, 2)
        assert consumed == []  # queued behind the unread chunk, not read in place
        assert await stream.receive(idle_timeout=5) == b"firstsecond"


async def test_nothing_can_be_sent_now_after_the_stream_ended(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:
        await stream.response_headers()
        assert stream.can_send_now(10)
        assert not stream.can_send_now(10 << 20)  # beyond the window
        await stream.end()
        assert not stream.can_send_now(1)


async def _until_buffered(stream: DuplexStream, count: int = 1) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while len(stream._chunks) < count and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - polled with a deadline
        await asyncio.sleep(0.005)
    assert len(stream._chunks) >= count


async def test_data_read_in_place_counts_as_activity_for_the_idle_timeout(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:
        await stream.response_headers()
        loop = asyncio.get_running_loop()
        seen = 0

        def consume(data: bytes) -> bool:
            nonlocal seen
            seen += 1
            if seen == 8:
                return True
            loop.call_later(0.1, stream.send_now, b"p")
            return False

        stream.consume_inline(consume)
        await stream.send(b"p")
        # About 0.8 s of traffic read in place, each gap well inside the 0.3 s idle timeout.
        assert await stream.receive(idle_timeout=0.3) == b""
        assert seen == 8


async def test_send_now_sends_every_byte_once_in_order_in_one_frame_or_several(
    server: H2TestServer, pool: BackendPool
) -> None:
    async with await pool.open_stream(server.url("/echo"), HEADERS) as stream:
        await stream.response_headers()
        big = bytes(range(256)) * 200  # beyond one frame: cut to the frame size
        for body in (b"kv answer", big, b"after"):
            assert stream.can_send_now(len(body))
            stream.send_now(body)
            stream.send_now(b"")  # nothing to send: no frame
            echoed = b""
            while len(echoed) < len(body):
                echoed += await stream.receive(idle_timeout=5) or b""
            assert echoed == body


class _Connection:
    """What a DuplexStream calls on its connection when it ends, recorded."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.acknowledged: list[tuple[int, int]] = []
        self.released: list[DuplexStream] = []

    def acknowledge(self, stream_id: int, size: int) -> None:
        self.acknowledged.append((stream_id, size))

    def release(self, stream: DuplexStream) -> None:
        self.released.append(stream)

    def reset_stream(self, stream_id: int, code: object) -> None:
        pass


async def test_a_stream_given_up_with_unread_data_returns_its_credit() -> None:
    connection = _Connection()
    stream = DuplexStream(connection, 1)  # type: ignore[arg-type]
    stream._on_response(200, [])
    stream._on_data(b"abc", 3)
    stream._on_data(b"", 9)  # padding only: credit, no data
    stream._on_data(b"de", 2)
    await stream.cancel()
    assert connection.acknowledged == [(1, 14)]
    assert connection.released == [stream]
    idle = DuplexStream(connection, 3)  # type: ignore[arg-type]
    await idle.cancel()  # nothing read, nothing unread: no credit to return
    assert connection.acknowledged == [(1, 14)]
    assert connection.released == [stream, idle]
