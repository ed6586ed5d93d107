"""Fixtures: a scripted h2 test server on 127.0.0.1 and a BackendPool aimed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from h2_test_server import H2TestServer

from cursor_bridge.transport import BackendPool


@pytest.fixture
async def server() -> AsyncIterator[H2TestServer]:
    server = H2TestServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def pool() -> AsyncIterator[BackendPool]:
    pool = BackendPool(connect_timeout=5)
    yield pool
    await pool.aclose()
