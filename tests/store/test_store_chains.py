"""A conversation's checkpoints form a chain (each turn continues from the previous one):
saving a turn costs the same however long the chain, and whichever end goes first, every
surviving checkpoint keeps every blob it may need."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_support import DAY, FakeClock, audit, blob, committed_bytes, links_made, statements

from cursor_bridge.store import MemoryStateStore, SqliteStateStore
from cursor_bridge.store.sqlite import _SqliteStore


def save_chain(store: _SqliteStore, length: int, clock: FakeClock | None = None) -> list[bytes]:
    """fp:0 <- fp:1 <- ... each turn with one blob of its own; returns the blob ids."""
    ids = []
    for n in range(length):
        key, data = blob(f"turn {n}")
        parent = f"fp:{n - 1}" if n else None
        store.save_turn(f"fp:{n}", b"ckpt", blobs={key: data}, parent=parent)
        ids.append(key)
        if clock is not None:
            clock.advance(1)
    return ids


def test_a_turn_costs_the_same_however_long_its_chain(store: _SqliteStore) -> None:
    save_chain(store, 30)
    with statements(store) as seen:
        store.save_turn("fp:30", b"ckpt", blobs=dict([blob("turn 30")]), parent="fp:29")
    assert links_made(seen) == 1  # its own blob; the 30 before it are not copied
    audit(store)


@pytest.mark.parametrize("order", [[0, 1, 2], [1, 0, 2], [2, 1, 0]], ids=str)
def test_a_chain_dropped_in_any_order_keeps_its_newest_whole(
    store: _SqliteStore, order: list[int]
) -> None:
    """fp:3 needs every blob of fp:0..2, whichever of them goes first (dropping the middle
    one hands down its blobs and its parent)."""
    ids = save_chain(store, 4)
    for n in order:
        store.drop_conversation(f"fp:{n}")
        store.flush()
        assert all(committed_bytes(store, key) is not None for key in ids)
        audit(store)
    store.drop_conversation("fp:3")
    assert all(committed_bytes(store, key) is None for key in ids)
    audit(store)


def test_a_branch_keeps_the_blobs_of_its_shared_parent(store: _SqliteStore) -> None:
    ids = save_chain(store, 2)
    regenerated = blob("turn 1, regenerated")
    store.save_turn("fp:1b", b"ckpt", blobs=dict([regenerated]), parent="fp:0")
    store.drop_conversation("fp:0")
    store.drop_conversation("fp:1")
    assert committed_bytes(store, ids[0]) is not None  # fp:1b still needs it
    assert committed_bytes(store, ids[1]) is None
    assert committed_bytes(store, regenerated[0]) == regenerated[1]
    audit(store)


def test_expiry_takes_a_stale_chain_and_spares_a_live_child(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, ttl=DAY, prune_interval=60) as store:
        stale = save_chain(store, 3, clock)
        live = blob("live")
        store.save_turn("live:0", b"ckpt", blobs=dict([live]))
        clock.advance(DAY / 2)
        store.save_turn("live:1", b"ckpt", blobs=dict([blob("live 1")]), parent="live:0")
        store.save_turn("fp:3", b"ckpt", blobs=dict([blob("turn 3")]), parent="fp:2")
        clock.advance(DAY * 0.75)  # live:0 and fp:0..2 are past the TTL; their children not
        result = store.prune()
        assert result.expired_conversations == 4
        assert all(committed_bytes(store, key) is not None for key in stale)  # fp:3's
        assert committed_bytes(store, live[0]) == live[1]  # live:1's
        clock.advance(DAY * 2)
        store.prune()
        assert all(committed_bytes(store, key) is None for key in [*stale, live[0]])
        audit(store)


def test_a_parent_never_saved_leaves_no_note(store: _SqliteStore) -> None:
    store.save_turn("fp:1", b"ckpt", blobs=dict([blob("one")]), parent="fp:unknown")
    store.flush()
    assert store._read().execute("SELECT count(*) FROM parents").fetchone() == (0,)
    audit(store)


def test_a_file_from_before_the_parents_table_gets_it(state_path: Path) -> None:
    with SqliteStateStore(state_path) as store:
        store.save_turn("fp:0", b"ckpt", blobs=dict([blob("turn 0")]))
    conn = sqlite3.connect(state_path)
    conn.execute("DROP TABLE parents")
    conn.commit()
    conn.close()
    with SqliteStateStore(state_path) as reopened:
        reopened.save_turn("fp:1", b"ckpt", blobs=dict([blob("turn 1")]), parent="fp:0")
        reopened.drop_conversation("fp:0")
        assert committed_bytes(reopened, blob("turn 0")[0]) is not None
        audit(reopened)


def test_a_child_another_bridge_dropped_inherits_nothing(state_path: Path) -> None:
    with SqliteStateStore(state_path) as store:
        ids = save_chain(store, 2)
    conn = sqlite3.connect(state_path)  # an older bridge drops fp:1 without looking at parents
    conn.execute("DELETE FROM owners WHERE conversation = 'fp:1'")
    conn.execute("DELETE FROM blobs WHERE id = ?", (ids[1],))
    conn.execute("DELETE FROM conversations WHERE key = 'fp:1'")
    conn.commit()
    conn.close()
    with SqliteStateStore(state_path) as reopened:
        reopened.drop_conversation("fp:0")
        reopened.flush()
        assert committed_bytes(reopened, ids[0]) is None  # no owner left behind for fp:1
        assert reopened._read().execute("SELECT count(*) FROM parents").fetchone() == (0,)
        audit(reopened)
