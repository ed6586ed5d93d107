from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from emulator_client import H2Client

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer


@pytest.fixture
def options() -> EmulatorOptions:
    return EmulatorOptions()


@pytest.fixture
async def emulator(options: EmulatorOptions) -> AsyncIterator[EmulatorServer]:
    server = EmulatorServer(options=options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def client(emulator: EmulatorServer) -> AsyncIterator[H2Client]:
    connection = await H2Client.connect(emulator.port)
    try:
        yield connection
    finally:
        await connection.close()
