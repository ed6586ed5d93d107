"""An in-process stack for account tests: emulator (auth on) + bridge whose token comes from
a stored account through AccountTokenProvider, on real sockets in the test's event loop.

The bridge's clock and the emulator's clock can be moved separately: moving both is "time
passes" (the bridge refreshes ahead of expiry); moving only the emulator's makes the bridge
hold a token it believes valid that the service refuses (refresh after the refusal)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from cursor_bridge.auth import (
    AccountTokenProvider,
    AuthClient,
    AuthEndpoints,
    TokenStore,
    save_login,
)
from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.server.app import create_app

LIFETIME = 600.0
MARGIN = 60.0


@dataclass
class AuthStack:
    emulator: EmulatorServer
    store: TokenStore
    path: Path
    provider: AccountTokenProvider
    backend: CursorBackend
    url: str
    offset: list[float]

    def advance(self, seconds: float, *, bridge: bool = True) -> None:
        self.emulator.auth.advance_clock(seconds)
        if bridge:
            self.offset[0] += seconds

    @property
    def counters(self):  # type: ignore[no-untyped-def]
        return self.emulator.counters

    async def chat(self, client: httpx.AsyncClient, text: str) -> httpx.Response:
        body = {"model": "claude-4.6-sonnet", "messages": [{"role": "user", "content": text}]}
        return await client.post(self.url + "/v1/chat/completions", json=body)


@pytest.fixture
def emulator_options() -> EmulatorOptions:
    return EmulatorOptions(require_auth=True, token_lifetime=LIFETIME, heartbeat_interval=0.2)


@pytest.fixture
async def auth_stack(emulator_options: EmulatorOptions) -> AsyncIterator[AuthStack]:
    emulator = EmulatorServer(options=emulator_options)
    await emulator.start()
    store = TokenStore()
    account = save_login(store, emulator.url, emulator.auth.issue(), "browser")
    path = store.path_for(account.backend_url, account.account_id)
    offset = [0.0]
    client = AuthClient(AuthEndpoints.for_backend(emulator.url))
    provider = AccountTokenProvider(
        store, path, client, margin=MARGIN, clock=lambda: time.time() + offset[0]
    )
    backend = CursorBackend(
        BackendConfig(
            api_url=emulator.url,
            agent_url=emulator.url,
            token=provider,
            on_unauthenticated=provider.on_unauthenticated,
            heartbeat_interval=0.2,
        )
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    server = uvicorn.Server(uvicorn.Config(create_app(backend), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.01)
    try:
        yield AuthStack(
            emulator,
            store,
            path,
            provider,
            backend,
            f"http://127.0.0.1:{sock.getsockname()[1]}",
            offset,
        )
    finally:
        server.should_exit = True
        await task
        await emulator.stop()
        await client.aclose()
        sock.close()
