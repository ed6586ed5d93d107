"""Shared fixtures: a bridge + emulator stack on real sockets, running in its own thread."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import uvicorn

from cursor_bridge import compose
from cursor_bridge.config import Settings
from cursor_bridge.engine.backend import CursorBackend
from cursor_bridge.server.app import create_app

T = TypeVar("T")

if TYPE_CHECKING:
    from cursor_bridge.emulator import EmulatorOptions, EmulatorServer


def pytest_report_header(config: pytest.Config) -> str:
    """Say up front what the real-client tests will download, so it is never a surprise."""
    from tests.support.npm_clients import PACKAGES, cache_root, installed

    have = installed()
    todo = [name for name in PACKAGES if name not in have]
    where = f"real-client tests (-m clients): cache {cache_root()}"
    if not todo:
        return f"{where}, all installed"
    return (
        f"{where}; will install from npm on first use: {', '.join(todo)} "
        "(about 1.1 GB on disk for all three; skip them with -m 'not clients')"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Let the children this suite starts be interrupted. A suite started in the background
    without job control (`cmd &` in a script, nohup, some CI runners) inherits an ignored
    SIGINT, and exec hands "ignored" on to every child: the tests that stop a `serve` or a
    `login` with Ctrl-C would then wait out their timeouts, depending on how the suite was
    launched. A handled signal is reset to the default in an exec'd child."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests against Cursor's real backend run only when `-m` asks for them (`-m live`)."""
    if "live" in (config.option.markexpr or ""):
        return
    live = [item for item in items if item.get_closest_marker("live")]
    if live:
        config.hook.pytest_deselected(items=live)
        items[:] = [item for item in items if not item.get_closest_marker("live")]


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own CURSOR_BRIDGE_HOME and (absent) config file, so nothing leaks
    between tests or in from the developer's own configuration."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CURSOR_BRIDGE_HOME", str(home))
    monkeypatch.setenv("CURSOR_BRIDGE_CONFIG", str(home / "config.toml"))


@dataclass
class Stack:
    """Emulator and bridge served from a background event loop."""

    loop: asyncio.AbstractEventLoop
    emulator: EmulatorServer
    backend: CursorBackend
    bridge_url: str

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    @property
    def counters(self) -> Any:
        return self.emulator.counters


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    from cursor_bridge.emulator import EmulatorOptions

    yield from _stack(EmulatorOptions(heartbeat_interval=0.2), heartbeat_interval=0.2)


@pytest.fixture(scope="session")
def paced_stack() -> Iterator[Stack]:
    """An emulator that types like a model (10 ms between words): the words arrive one by
    one, so a stream must relay them as several deltas (words that arrive together may be
    merged into one)."""
    from cursor_bridge.emulator import EmulatorOptions

    options = EmulatorOptions(heartbeat_interval=0.2, token_latency=0.01)
    yield from _stack(options, heartbeat_interval=0.2)


def _stack(options: EmulatorOptions, **config: Any) -> Iterator[Stack]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="stack-loop", daemon=True)
    thread.start()
    sock = _free_socket()
    port = sock.getsockname()[1]

    from cursor_bridge.emulator import EmulatorServer

    async def boot() -> tuple[EmulatorServer, CursorBackend, uvicorn.Server, asyncio.Task[None]]:
        emulator = EmulatorServer("127.0.0.1", 0, options)
        await emulator.start()
        # Wired by the composition root, like `serve --emulator`. Settings are built from
        # the defaults alone (not the environment or a config file: this fixture outlives
        # every test's isolated home), keeping state in memory.
        tuning = {k: v for k, v in config.items() if k in Settings.model_fields}
        settings = Settings.model_construct(persist_state=False, **tuning)
        backend = compose.emulator_backend(settings, emulator.url)
        for name, value in config.items():  # the rest are the backend's own hooks (recorder)
            if name not in tuning:
                assert hasattr(backend.config, name), f"neither a setting nor a hook: {name}"
                setattr(backend.config, name, value)
        server = uvicorn.Server(
            uvicorn.Config(create_app(backend, mode="emulator"), log_level="warning", lifespan="on")
        )
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
            await asyncio.sleep(0.01)
        return emulator, backend, server, task

    emulator, backend, server, task = asyncio.run_coroutine_threadsafe(boot(), loop).result(30)
    try:
        yield Stack(loop, emulator, backend, f"http://127.0.0.1:{port}")
    finally:

        async def shutdown() -> None:
            server.should_exit = True
            await task
            await emulator.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        sock.close()


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
