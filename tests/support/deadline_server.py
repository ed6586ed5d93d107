"""A uvicorn server with `serve`'s HTTP protocol (server/header_deadline.py), in the test's
own event loop, for tests of its deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from cursor_bridge.server.header_deadline import header_deadline_protocol


@contextlib.asynccontextmanager
async def deadline_server(app: ASGIApp, header_timeout: float, **config: Any) -> AsyncIterator[int]:
    """Serve *app* on 127.0.0.1 with the header deadline *header_timeout* (and uvicorn
    *config*), yield its port, and shut it down afterwards."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    instance = uvicorn.Server(
        uvicorn.Config(
            app, log_config=None, http=header_deadline_protocol(header_timeout), **config
        )
    )
    task = asyncio.create_task(instance.serve(sockets=[sock]))
    while not instance.started:  # noqa: ASYNC110 (uvicorn exposes only this flag)
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        instance.should_exit = True
        await task
