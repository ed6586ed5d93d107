"""Smoke tests against Cursor's real backend: `pytest -m live`.

Credentials come from the environment: `CURSOR_BRIDGE_LIVE_TOKEN` (an access token), or
the account `cursor-bridge login` stored in your real bridge home (`CURSOR_BRIDGE_HOME` as set
when pytest started, else the platform data dir). Without either, every test here is skipped
with the reason. They never run by default (`-m 'not live'`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cursor_bridge.auth import AccountTokenProvider, AuthClient, AuthEndpoints, TokenStore
from cursor_bridge.config import CURSOR_API_URL
from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.engine.output import TextDelta, TurnFinished
from cursor_bridge.engine.request import ChatMessage, ChatRequest
from cursor_bridge.live import device_ids, discover_agent_url, probe, resolve_client_version
from cursor_bridge.paths import bridge_home
from cursor_bridge.protocol.headers import ClientIdentity

pytestmark = pytest.mark.live

# Read before the autouse fixture points CURSOR_BRIDGE_HOME at a temp dir.
REAL_HOME: Path = bridge_home()
LIVE_TOKEN = os.environ.get("CURSOR_BRIDGE_LIVE_TOKEN", "")


def _stored() -> tuple[TokenStore, Path] | None:
    store = TokenStore(REAL_HOME / "accounts")
    found = store.current(CURSOR_API_URL)
    return (store, found[0]) if found else None


@pytest.fixture
async def backend() -> AsyncIterator[CursorBackend]:
    stored = _stored()
    if not LIVE_TOKEN and stored is None:
        pytest.skip(
            "no Cursor credentials: set CURSOR_BRIDGE_LIVE_TOKEN or run `cursor-bridge login`"
        )
    # The real home's device id: a new id per run would look like a new device each time.
    ids = device_ids(REAL_HOME)
    identity = ClientIdentity(
        client_version=resolve_client_version(
            os.environ.get("CURSOR_BRIDGE_CLIENT_VERSION"), fetch=True, home=REAL_HOME
        ),
        machine_id=ids.machine_id,
        mac_machine_id=ids.mac_machine_id,
    )
    client = AuthClient(AuthEndpoints.for_backend(CURSOR_API_URL))
    config = BackendConfig(api_url=CURSOR_API_URL, agent_url=CURSOR_API_URL, identity=identity)
    if LIVE_TOKEN:

        async def token() -> str | None:
            return LIVE_TOKEN

        config.token = token
    else:
        assert stored is not None
        provider = AccountTokenProvider(stored[0], stored[1], client)
        config.token = provider
        config.on_unauthenticated = provider.on_unauthenticated
    backend = CursorBackend(config)
    agent = await discover_agent_url(backend.pool, CURSOR_API_URL, await config.token(), identity)
    config.agent_url = agent or CURSOR_API_URL
    try:
        yield backend
    finally:
        await backend.aclose()
        await client.aclose()


async def test_backend_is_reachable_and_takes_the_token(backend: CursorBackend) -> None:
    token = await backend.config.token()
    result = await probe(CURSOR_API_URL, token, backend.config.identity)
    assert result.reachable and result.token_accepted, result.detail


async def test_model_list(backend: CursorBackend) -> None:
    models = await backend.catalog.models()
    assert models, "the account lists no models"


async def test_one_short_turn(backend: CursorBackend) -> None:
    request = ChatRequest(
        model="auto",
        messages=(ChatMessage(role="user", text="Reply with the single word: pong"),),
        stream=True,
    )
    choice = await backend.resolve(request)
    text, finished = "", False
    async for batch in backend.stream_turn(request, choice):
        for event in batch:
            if isinstance(event, TextDelta):
                text += event.text
            finished = finished or isinstance(event, TurnFinished)
    assert finished and "pong" in text.lower()
