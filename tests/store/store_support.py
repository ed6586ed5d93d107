"""Helpers for the store tests: a settable clock and an audit of the database's bookkeeping."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cursor_bridge.store.sqlite import _SqliteStore

DAY = 24 * 3600.0


@dataclass
class FakeClock:
    """Wall-clock stand-in: tests move time instead of sleeping."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def blob(text: str, size: int = 0) -> tuple[bytes, bytes]:
    """A content-addressed (id, data) pair; *size* pads the data to that many bytes."""
    data = text.encode()
    if size:
        data = (data * (size // max(len(data), 1) + 1))[:size]
    return hashlib.sha256(data).digest(), data


def audit(store: _SqliteStore) -> dict[str, int]:
    """Recount everything the triggers maintain; fail if the running counters drifted."""
    store.flush()
    conn: sqlite3.Connection = store._read()  # the test looks under the hood on purpose
    count, blob_bytes = conn.execute("SELECT count(*), ifnull(sum(size), 0) FROM blobs").fetchone()
    data_count, data_bytes = conn.execute(
        "SELECT count(*), ifnull(sum(length(data)), 0) FROM blob_data"
    ).fetchone()
    conversations, checkpoints, checkpoint_bytes = conn.execute(
        "SELECT count(*), count(checkpoint), ifnull(sum(length(checkpoint)), 0) FROM conversations"
    ).fetchone()
    usage = conn.execute(
        "SELECT blob_count, blob_bytes, conversations, checkpoints, checkpoint_bytes FROM usage"
    ).fetchone()
    assert usage == (count, blob_bytes, conversations, checkpoints, checkpoint_bytes)
    assert (data_count, data_bytes) == (count, blob_bytes)
    wrong_owner_counts = conn.execute(
        "SELECT count(*) FROM blobs b"
        " WHERE owners != (SELECT count(*) FROM owners o WHERE o.blob = b.id)"
    ).fetchone()[0]
    assert wrong_owner_counts == 0
    dangling = conn.execute(
        "SELECT count(*) FROM owners o WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = o.blob)"
        " OR NOT EXISTS (SELECT 1 FROM conversations c WHERE c.key = o.conversation)"
    ).fetchone()[0]
    assert dangling == 0
    orphan_edges = conn.execute(
        "SELECT count(*) FROM parents p WHERE p.child = p.parent"
        " OR NOT EXISTS (SELECT 1 FROM conversations c WHERE c.key = p.child)"
        " OR NOT EXISTS (SELECT 1 FROM conversations c WHERE c.key = p.parent)"
    ).fetchone()[0]
    assert orphan_edges == 0
    return {"blobs": count, "blob_bytes": blob_bytes, "conversations": conversations}


def contents(store: _SqliteStore) -> tuple[set[bytes], set[str]]:
    """Committed blob ids and conversation keys, read without touching anything (no LRU
    effect); waits for queued writes first."""
    store.flush()
    conn = store._read()
    blob_ids = {row[0] for row in conn.execute("SELECT id FROM blobs")}
    keys = {row[0] for row in conn.execute("SELECT key FROM conversations")}
    return blob_ids, keys


@contextmanager
def statements(store: _SqliteStore) -> Iterator[list[str]]:
    """The SQL the store's writer runs inside the block (committed before it ends)."""
    seen: list[str] = []
    store.flush()
    store._writer.set_trace_callback(seen.append)  # the test looks under the hood on purpose
    try:
        yield seen
        store.flush()
    finally:
        store._writer.set_trace_callback(None)


def writes_of(seen: list[str], table: str) -> int:
    """Rows written to *table* (a trigger's statements are traced again under the text of
    the statement that fired them: counted once)."""
    return len({sql for sql in seen if sql.startswith(f"INSERT INTO {table} ")})


def links_made(seen: list[str]) -> int:
    return len({sql for sql in seen if sql.startswith("INSERT OR IGNORE INTO owners")})


def committed_bytes(store: _SqliteStore, key: bytes) -> bytes | None:
    """The bytes the database holds for *key* (not the read cache)."""
    store.flush()
    row = store._read().execute("SELECT data FROM blob_data WHERE id = ?", (key,)).fetchone()
    return None if row is None else bytes(row[0])
