"""An emulator served from a background event loop, for tests that stay synchronous
(subprocesses, click's CliRunner) while the emulator answers on a real socket."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer

T = TypeVar("T")


class ThreadedEmulator:
    def __init__(self, loop: asyncio.AbstractEventLoop, server: EmulatorServer) -> None:
        self.loop = loop
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def counters(self) -> Any:
        return self.server.counters

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def advance_clock(self, seconds: float) -> None:
        async def advance() -> None:
            self.server.auth.advance_clock(seconds)

        self.call(advance())


@contextmanager
def threaded_emulator(options: EmulatorOptions) -> Iterator[ThreadedEmulator]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="emulator-loop", daemon=True)
    thread.start()
    server = EmulatorServer("127.0.0.1", 0, options)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
        yield ThreadedEmulator(loop, server)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
