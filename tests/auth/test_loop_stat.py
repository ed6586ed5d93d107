"""LoopStat (auth/loop_stat.py): one `stat` per loop iteration at most, never older than
the iteration; outside a loop, or on another thread, every call looks."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from cursor_bridge.auth.loop_stat import LoopStat
from cursor_bridge.auth.store import TokenStore
from tests.support.stat_calls import count_stats


@pytest.fixture
def looks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return count_stats(monkeypatch)


def test_outside_a_loop_every_call_looks(tmp_path: Path, looks: list[str]) -> None:
    path = tmp_path / "f"
    watched = LoopStat(path)
    assert watched.stat() is None
    path.write_text("x")
    info = watched.stat()
    assert info is not None and info.st_size == 1
    assert len(looks) == 2


async def test_one_look_serves_the_rest_of_the_iteration_only(
    tmp_path: Path, looks: list[str]
) -> None:
    path = tmp_path / "f"
    watched = LoopStat(path)
    assert watched.stat() is None
    path.write_text("x")
    assert watched.stat() is None, "the same iteration shares the first look"
    assert len(looks) == 1
    await asyncio.sleep(0)
    info = watched.stat()
    assert info is not None and info.st_size == 1, "the next iteration looks again"
    assert len(looks) == 2


async def test_a_step_queued_after_the_look_sees_a_change_made_before_it(tmp_path: Path) -> None:
    """What keeps revocation prompt: work queued (a request's first step) after the look
    runs after the look expired."""
    path = tmp_path / "f"
    watched = LoopStat(path)
    assert watched.stat() is None
    path.write_text("x")
    seen: list[os.stat_result | None] = []
    asyncio.get_running_loop().call_soon(lambda: seen.append(watched.stat()))
    await asyncio.sleep(0)
    assert seen[0] is not None


async def test_another_thread_looks_for_itself(tmp_path: Path, looks: list[str]) -> None:
    path = tmp_path / "f"
    watched = LoopStat(path)
    assert watched.stat() is None
    path.write_text("x")
    seen: list[os.stat_result | None] = []
    thread = threading.Thread(target=lambda: seen.append(watched.stat()))
    thread.start()
    thread.join()
    assert seen[0] is not None and len(looks) == 2


def test_a_stopped_loop_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "f"
    watched = LoopStat(path)

    async def look() -> None:
        watched.stat()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(look())  # its expiry may still be queued
    finally:
        loop.close()
    path.write_text("x")
    assert watched.stat() is not None


async def test_the_accounts_stamp_follows_a_login_from_the_next_iteration(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "accounts")
    assert store.stamp() is None
    (tmp_path / "accounts").mkdir()
    assert store.stamp() is None
    await asyncio.sleep(0)
    stamp = store.stamp()
    assert stamp is not None
    assert stamp == (tmp_path / "accounts").stat().st_mtime_ns
