"""The file itself: where it goes, its mode, and what happens when it is bad."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from store_support import blob

from cursor_bridge.compose import state_store
from cursor_bridge.config import Settings
from cursor_bridge.store import (
    MemoryStateStore,
    SqliteStateStore,
    StateStoreError,
    default_state_path,
    open_state_store,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_and_its_journal_are_private(state_path: Path) -> None:
    with SqliteStateStore(state_path) as store:
        store.blobs.put(*blob("x"))
        store.flush()
        assert mode(state_path) == 0o600
        assert mode(state_path.parent) == 0o700
        journal = state_path.with_name(state_path.name + "-wal")
        assert journal.exists()  # WAL mode
        assert mode(journal) == 0o600
        (journal_mode,) = store._read().execute("PRAGMA journal_mode").fetchone()
        assert journal_mode == "wal"


def test_an_existing_file_readable_by_others_is_made_private(state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.touch(mode=0o644)
    state_path.chmod(0o644)
    with SqliteStateStore(state_path):
        assert mode(state_path) == 0o600


def test_default_location_is_under_the_bridge_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURSOR_BRIDGE_HOME", str(tmp_path / "bridge"))
    assert default_state_path() == tmp_path / "bridge" / "state.sqlite3"
    with SqliteStateStore() as store:
        assert store.path == tmp_path / "bridge" / "state.sqlite3"
    assert mode(tmp_path / "bridge" / "state.sqlite3") == 0o600


def test_a_file_that_is_not_a_database_is_moved_aside_and_replaced(state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    garbage = b"this is not sqlite " * 500
    state_path.write_bytes(garbage)

    with SqliteStateStore(state_path) as store:
        key, data = blob("fresh")
        store.blobs.put(key, data)
        assert store.blobs.get(key) == data
        store.flush()
        assert store.stats().blob_count == 1

    [kept] = state_path.parent.glob("state.sqlite3.corrupt-*")
    assert kept.read_bytes() == garbage


def test_a_damaged_header_is_treated_as_not_a_database(state_path: Path) -> None:
    with SqliteStateStore(state_path) as store:
        store.save_checkpoint("conv", b"ckpt")
    raw = bytearray(state_path.read_bytes())
    raw[:16] = b"XXXXXXXXXXXXXXXX"  # the SQLite magic string
    state_path.write_bytes(bytes(raw))
    with SqliteStateStore(state_path) as store:
        assert store.load_checkpoint("conv") is None
    assert len(list(state_path.parent.glob("state.sqlite3.corrupt-*"))) == 1


def test_a_path_we_cannot_open_raises_a_clear_error(tmp_path: Path) -> None:
    in_the_way = tmp_path / "state.sqlite3"
    in_the_way.mkdir()  # a directory where the file should be (fails even as root)
    with pytest.raises(StateStoreError, match=r"state\.sqlite3"):
        SqliteStateStore(in_the_way)
    assert in_the_way.is_dir()  # nothing destroyed


def test_a_database_from_a_newer_bridge_is_left_alone(state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(state_path)
    conn.execute("PRAGMA user_version = 99")
    conn.execute("CREATE TABLE future (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StateStoreError, match="newer"):
        SqliteStateStore(state_path)
    conn = sqlite3.connect(state_path)
    assert conn.execute("PRAGMA user_version").fetchone() == (99,)
    conn.close()


def test_the_store_takes_plain_parameters(tmp_path: Path) -> None:
    with open_state_store(tmp_path / "plain.db", ttl=60, max_bytes=4096) as store:
        assert isinstance(store, SqliteStateStore)
        assert (store.path, store.ttl, store.max_bytes) == (tmp_path / "plain.db", 60, 4096)
    with open_state_store(tmp_path / "unused.db", ttl=60, max_bytes=4096, persist=False) as store:
        assert isinstance(store, MemoryStateStore)
    assert not (tmp_path / "unused.db").exists()


def test_settings_choose_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_BRIDGE_STATE_PATH", str(tmp_path / "custom.db"))
    monkeypatch.setenv("CURSOR_BRIDGE_STATE_TTL", "3600")
    monkeypatch.setenv("CURSOR_BRIDGE_STATE_MAX_BYTES", "1048576")
    with state_store(Settings()) as store:
        assert isinstance(store, SqliteStateStore)
        assert (store.path, store.ttl, store.max_bytes) == (tmp_path / "custom.db", 3600, 1 << 20)

    monkeypatch.setenv("CURSOR_BRIDGE_PERSIST_STATE", "false")
    with state_store(Settings()) as store:
        assert isinstance(store, MemoryStateStore)
        assert store.max_bytes == 1 << 20
