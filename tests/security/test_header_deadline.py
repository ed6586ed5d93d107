"""Slow-header clients (slowloris) are cut off; ordinary requests are not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.deadline_server import deadline_server

DEADLINE = 0.5


async def hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


@pytest.fixture
async def server() -> AsyncIterator[int]:
    async with deadline_server(Starlette(routes=[Route("/", hello)]), DEADLINE) as port:
        yield port


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the server closes the connection (EOF) within *seconds*."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
    except TimeoutError:
        return False
    return True


async def test_headers_that_never_finish_are_cut_off(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: never complete
    await writer.drain()
    assert await closed_within(reader, DEADLINE * 10)
    writer.close()


async def test_a_silent_connection_is_cut_off(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    assert await closed_within(reader, DEADLINE * 10)
    writer.close()


async def test_a_trickle_of_header_bytes_does_not_extend_the_deadline(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET / HTTP/1.1\r\n")
    loop = asyncio.get_running_loop()
    start = loop.time()
    closed = False
    while not closed and loop.time() - start < DEADLINE * 10:
        try:
            writer.write(b"X-Slow: y\r\n")  # a header line every 0.1 s, never the end
            await writer.drain()
            async with asyncio.timeout(0.1):
                closed = not await reader.read(1024)
        except TimeoutError:
            continue
        except ConnectionError:
            closed = True
    assert closed
    assert loop.time() - start < DEADLINE * 5
    writer.close()


async def test_ordinary_requests_on_a_kept_alive_connection_work(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    for _ in range(2):
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert await reader.readexactly(5) == b"hello"
        # Idle between requests for longer than the deadline: keep-alive rules there.
        await asyncio.sleep(DEADLINE * 1.5)
    writer.close()


async def test_a_later_request_gets_its_own_deadline(server: int) -> None:
    """One timer serves a connection's requests: a request that begins while the timer
    armed for an earlier one is pending still has the full deadline from its own
    beginning, and is cut off when it stalls."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    loop = asyncio.get_running_loop()
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    assert await reader.readexactly(5) == b"hello"
    await asyncio.sleep(DEADLINE * 0.4)  # the connection's timer is still pending
    writer.write(b"GET / HTTP/1.1\r\n")  # a request that never completes its headers
    await writer.drain()
    stalled = loop.time()
    assert not await closed_within(reader, DEADLINE * 0.8), "cut off before its deadline"
    assert await closed_within(reader, DEADLINE * 10)
    assert loop.time() - stalled >= DEADLINE * 0.9
    writer.close()
