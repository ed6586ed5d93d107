from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import FakeClock

from cursor_bridge.store import MemoryStateStore, SqliteStateStore
from cursor_bridge.store.sqlite import _SqliteStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "state.sqlite3"


@pytest.fixture(params=["sqlite", "memory", "memory-background"])
def store(
    request: pytest.FixtureRequest, state_path: Path, clock: FakeClock
) -> Iterator[_SqliteStore]:
    """Each behavioural test runs against the file store and its in-memory twins (the
    synchronous one, and the one with a writer thread that `persist_state = false` uses)."""
    made: _SqliteStore
    if request.param == "sqlite":
        made = SqliteStateStore(state_path, clock=clock)
    elif request.param == "memory-background":
        made = MemoryStateStore(clock=clock, background_writes=True)
        assert made._thread is not None
    else:
        made = MemoryStateStore(clock=clock)
    with made:
        yield made
