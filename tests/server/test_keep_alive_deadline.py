"""The keep-alive timeout under `serve`'s protocol (server/header_deadline.py): one timer per
connection stands for it, and the rule is uvicorn's: an idle connection is closed
`timeout_keep_alive` seconds after its last response, a request's bytes end the idle time,
and a request that takes longer than that is not cut off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.deadline_server import deadline_server

KEEP_ALIVE = 0.4
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
SLOW = b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(KEEP_ALIVE * 2.5)
    return PlainTextResponse("hello")


@pytest.fixture
async def server() -> AsyncIterator[int]:
    app = Starlette(routes=[Route("/", hello), Route("/slow", slow)])
    async with deadline_server(app, 60.0, timeout_keep_alive=KEEP_ALIVE) as port:
        yield port


async def answered(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> None:
    writer.write(request)
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    assert await reader.readexactly(5) == b"hello"


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            return await reader.read(1024) == b""
    except TimeoutError:
        return False


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    loop = asyncio.get_running_loop()
    await answered(reader, writer, REQUEST)
    idle = loop.time()
    assert await closed_within(reader, KEEP_ALIVE * 10)
    assert loop.time() - idle >= KEEP_ALIVE * 0.9
    writer.close()


async def test_the_timeout_counts_from_the_last_response(server: int) -> None:
    """A request in the idle time moves the deadline: the timer armed after the first
    response fires on the old deadline and must wait for the new one."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    loop = asyncio.get_running_loop()
    await answered(reader, writer, REQUEST)
    await asyncio.sleep(KEEP_ALIVE * 0.6)
    await answered(reader, writer, REQUEST)
    second = loop.time()
    assert not await closed_within(reader, KEEP_ALIVE * 0.7), "closed on the first deadline"
    await answered(reader, writer, REQUEST)  # still open: usable
    assert await closed_within(reader, KEEP_ALIVE * 10)
    assert loop.time() - second >= KEEP_ALIVE * 0.9
    writer.close()


async def test_a_request_longer_than_the_timeout_is_answered(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    await answered(reader, writer, REQUEST)  # the connection's timer is armed
    await answered(reader, writer, SLOW)  # takes longer than the keep-alive timeout
    await answered(reader, writer, REQUEST)
    writer.close()
