"""On Python 3.11 blob parameters are bound as bytearray copies when small (store/rows.py
`bindable`): the same BLOBs end up stored, and the writer's statements hand sqlite3 no
small `bytes` (which it would first send through its adapter lookup). Both settings of
`COPY_BYTES` are tested whatever Python runs the tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cursor_bridge.store import SqliteStateStore, rows, schema, writes
from cursor_bridge.store.known_blobs import BatchBlobs, KnownBlobs
from cursor_bridge.store.rows import BIND_COPY_MAX, bindable
from cursor_bridge.store.types import StoredCheckpoint

SMALL = b"s" * BIND_COPY_MAX
LARGE = b"L" * (BIND_COPY_MAX + 1)


def _ops() -> tuple[list[writes.Op], writes.Touches]:
    stored = StoredCheckpoint("k1", b"checkpoint", {"model": "m"}, 1000.0)
    turn = writes.SaveTurn(stored, {b"id-small": SMALL, b"id-large": LARGE}, (b"id-put",), None)
    put = writes.PutBlob("k2", b"id-put", b"put data", 999.0)
    touches = writes.Touches(
        blobs={b"id-small": 1001.0}, conversations={"k1": 1001.0}, links={"k2": {b"id-small"}}
    )
    return [put, turn], touches


def _apply(conn: sqlite3.Connection) -> None:
    ops, touches = _ops()
    batch = BatchBlobs(KnownBlobs())
    conn.execute("BEGIN IMMEDIATE")
    writes.apply(conn, ops, touches, batch, expire_before=None, max_bytes=1 << 40, low_water=0)
    conn.execute("COMMIT")


@pytest.fixture(params=[True, False], ids=["copy", "no-copy"])
def copy_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(rows, "COPY_BYTES", request.param)
    return bool(request.param)


def test_bindable_copies_small_values_only_when_copying(copy_bytes: bool) -> None:
    small = bindable(SMALL)
    assert small == SMALL
    assert type(small) is (bytearray if copy_bytes else bytes)
    assert bindable(LARGE) is LARGE
    assert bindable(b"") == b""


def test_the_writer_binds_no_small_bytes_when_copying(
    copy_bytes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bytes] = []

    def spy(value: bytes) -> bytes:
        seen.append(value)
        return value

    conn = schema.open_memory()
    # sqlite3 consults this adapter for every `bytes` parameter it is given.
    monkeypatch.setitem(sqlite3.adapters, (bytes, sqlite3.PrepareProtocol), spy)
    _apply(conn)
    if copy_bytes:
        assert seen == [LARGE]  # the large blob went as it was: the spy does see bytes
    else:
        assert SMALL in seen and b"id-small" in seen and LARGE in seen


def test_bound_copies_store_the_same_blobs(copy_bytes: bool) -> None:
    conn = schema.open_memory()
    _apply(conn)
    data = dict(conn.execute("SELECT id, data FROM blob_data").fetchall())
    assert data == {b"id-small": SMALL, b"id-large": LARGE, b"id-put": b"put data"}
    assert all(type(key) is bytes and type(value) is bytes for key, value in data.items())
    for table, columns in [
        ("blob_data", "typeof(id), typeof(data)"),
        ("blobs", "typeof(id), 'blob'"),
        ("owners", "typeof(blob), 'blob'"),
    ]:
        types = set(conn.execute(f"SELECT {columns} FROM {table}").fetchall())
        assert types == {("blob", "blob")}, table
    owners = set(conn.execute("SELECT conversation, blob FROM owners").fetchall())
    assert owners == {
        ("k1", b"id-small"),
        ("k1", b"id-large"),
        ("k1", b"id-put"),
        ("k2", b"id-put"),
        ("k2", b"id-small"),
    }
    sizes = dict(conn.execute("SELECT id, size FROM blobs").fetchall())
    assert sizes == {b"id-small": len(SMALL), b"id-large": len(LARGE), b"id-put": 8}
    accessed = conn.execute("SELECT accessed FROM blobs WHERE id = ?", (b"id-small",)).fetchone()
    assert accessed == (1001.0,)


def test_another_store_reads_back_what_one_wrote(copy_bytes: bool, tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with SqliteStateStore(path) as store:
        store.conversation_blobs("k").put(b"a", SMALL)
        store.save_turn("k", b"cp", blobs={b"b": b"tiny", b"c": LARGE})
    with SqliteStateStore(path) as other:  # nothing cached: read from the file
        for key, value in [(b"a", SMALL), (b"b", b"tiny"), (b"c", LARGE)]:
            got = other.conversation_blobs("k").get(key)
            assert got == value and type(got) is bytes
        loaded = other.load_checkpoint("k")
        assert loaded is not None and loaded.checkpoint == b"cp"
