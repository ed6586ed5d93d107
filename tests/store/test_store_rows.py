"""A batch of turns is written as a few multi-row statements (store/rows.py), and leaves
exactly the database that writing each turn on its own leaves: rows, upserts in turn
order, links, parents and the triggers' bookkeeping."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_support import FakeClock, audit, blob

from cursor_bridge.store import MemoryStateStore, schema, writes
from cursor_bridge.store.known_blobs import BatchBlobs, KnownBlobs
from cursor_bridge.store.rows import MAX_ROWS, Row, chunks, write_rows
from cursor_bridge.store.types import StoredCheckpoint


def _turn(
    key: str,
    checkpoint: bytes,
    blobs: dict[bytes, bytes],
    *,
    reachable: tuple[bytes, ...] = (),
    parent: str | None = None,
    at: float = 1000.0,
) -> writes.SaveTurn:
    stored = StoredCheckpoint(key, checkpoint, {"conversation_id": key}, at)
    return writes.SaveTurn(stored, blobs, reachable, parent)


def _apply(conn: sqlite3.Connection, ops: list[writes.Op], known: KnownBlobs) -> None:
    batch = BatchBlobs(known)
    conn.execute("BEGIN IMMEDIATE")
    writes.apply(
        conn, ops, writes.Touches(), batch, expire_before=None, max_bytes=1 << 40, low_water=0
    )
    conn.execute("COMMIT")
    batch.commit()


def _dump(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    tables = ("blobs", "blob_data", "conversations", "owners", "parents", "usage")
    return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall()) for table in tables}


@contextmanager
def _traced(conn: sqlite3.Connection) -> Iterator[list[str]]:
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, MAX_ROWS, MAX_ROWS + 1, 3 * MAX_ROWS + 5])
def test_chunks_cover_every_row_in_few_statement_shapes(count: int) -> None:
    sizes = chunks(count)
    assert sum(sizes) == count
    assert all(size <= MAX_ROWS and size & (size - 1) == 0 for size in sizes)
    assert sizes == sorted(sizes, reverse=True)  # at most one statement of each smaller size


def test_rows_are_written_in_order_so_the_last_upsert_wins() -> None:
    conn = schema.open_memory()
    rows = [(f"k{i % 40}", i, f'{{"n": {i}}}', float(i), float(i)) for i in range(300)]
    with _traced(conn) as seen:
        write_rows(conn, writes._SAVE_CHECKPOINT_ROWS, 5, rows)
    # 300 rows, 5 statements (a trigger's statements are traced again under the same text)
    assert len(set(seen)) == len(chunks(300)) == 5
    saved = dict(conn.execute("SELECT key, checkpoint FROM conversations").fetchall())
    assert saved == {f"k{i % 40}": i for i in range(300)}  # each key's last row
    assert conn.execute("SELECT conversations FROM usage").fetchone() == (40,)


def test_a_batch_of_turns_costs_a_few_statements_not_some_per_turn() -> None:
    conn = schema.open_memory()
    shared = dict([blob("system prompt"), blob("tools")])
    ops: list[writes.Op] = [
        _turn(f"fp:{i}", b"c%d" % i, {**shared, **dict([blob(f"turn {i}"), blob(f"answer {i}")])})
        for i in range(50)
    ]
    with _traced(conn) as seen:
        _apply(conn, ops, KnownBlobs())
    turn_statements = {sql for sql in seen if sql.startswith("INSERT")}
    # Blob bytes and blob rows (102 blobs), checkpoints (50), owner links (200): 14
    # statements, where one a row would be 454.
    assert len(turn_statements) == 2 * len(chunks(102)) + len(chunks(50)) + len(chunks(200))
    assert conn.execute("SELECT count(*) FROM owners").fetchone() == (200,)
    assert conn.execute("SELECT blob_count, conversations FROM usage").fetchone() == (102, 50)


_ids = st.sampled_from([blob(f"b{i}")[0] for i in range(6)])
_turns = st.lists(
    st.tuples(
        st.sampled_from(["fp:a", "fp:b", "fp:c", "fp:d"]),  # keys: saved again in a batch
        st.dictionaries(_ids, st.sampled_from([b"x", b"yy", b"zzz"]), max_size=4),
        st.lists(
            st.sampled_from([blob("old")[0], blob("gone")[0]]) | _ids, max_size=3, unique=True
        ),
        st.sampled_from([None, "fp:old", "fp:a", "fp:missing"]),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(_turns, st.lists(st.integers(0, 12), max_size=3))
def test_a_batch_leaves_what_one_turn_at_a_time_leaves(
    turns: list[tuple[str, dict[bytes, bytes], list[bytes], str | None]], cuts: list[int]
) -> None:
    """Random turns (shared and replaced blobs, keys saved twice, links to blobs stored
    before the batch, by an earlier or a later turn of it, or never; parents saved before,
    earlier, later or never), with drops between some of them: one batch and one
    transaction per op give the same tables."""
    ops: list[writes.Op] = []
    for index, (key, blobs, reachable, parent) in enumerate(turns):
        if index in cuts:
            ops.append(writes.DropConversation("fp:b"))
        ops.append(
            _turn(key, b"c%d" % index, blobs, reachable=tuple(reachable), parent=parent, at=index)
        )
    databases = []
    for batched in (True, False):
        conn = schema.open_memory()
        known = KnownBlobs()
        _apply(conn, [_turn("fp:old", b"old", dict([blob("old")]))], known)
        for group in [ops] if batched else [[op] for op in ops]:
            _apply(conn, group, known)
        assert _miscounted(conn) == []
        databases.append(_dump(conn))
    assert databases[0] == databases[1]


def _miscounted(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    """Blobs whose owner count is not their number of links, or whose place in the
    unowned index is wrong (the index is read by a query that can only use it)."""
    wrong = conn.execute(
        "SELECT id, owners FROM blobs b WHERE owners != (SELECT count(*) FROM owners o"
        " WHERE o.blob = b.id)"
    ).fetchall()
    indexed = conn.execute(
        "SELECT id FROM blobs INDEXED BY blobs_unowned_by_access WHERE owners = 0"
    ).fetchall()
    unowned = conn.execute(
        "SELECT id FROM blobs NOT INDEXED WHERE owners = 0 ORDER BY accessed"
    ).fetchall()
    return wrong + ([("index", indexed, unowned)] if sorted(indexed) != sorted(unowned) else [])


def test_new_blobs_start_counting_the_links_made_in_their_batch() -> None:
    """A blob new to the database, linked by several keys of one batch, and one it held
    before (linked again, and with new bytes): each counts exactly its links."""
    conn = schema.open_memory()
    known = KnownBlobs()
    old, new, unowned = blob("old"), blob("new"), blob("unowned")
    _apply(conn, [_turn("fp:a", b"a", dict([old]))], known)
    conn.execute("INSERT INTO blobs (id, size, accessed) VALUES (?, 1, 0)", (unowned[0],))
    conn.execute("INSERT INTO blob_data (id, data) VALUES (?, x'00')", (unowned[0],))
    known.forget_all()  # as after another process's commit: every blob is written again
    _apply(
        conn,
        [
            _turn("fp:b", b"b", {new[0]: new[1], old[0]: old[1]}),
            _turn("fp:c", b"c", {new[0]: new[1], old[0]: b"new bytes", unowned[0]: b"u"}),
            _turn("fp:a", b"a2", {new[0]: new[1]}),
        ],
        known,
    )
    counts = dict(conn.execute("SELECT id, owners FROM blobs").fetchall())
    assert counts == {old[0]: 3, new[0]: 3, unowned[0]: 1}
    assert _miscounted(conn) == []
    data = dict(conn.execute("SELECT id, data FROM blob_data").fetchall())
    assert data[old[0]] == b"new bytes" and data[unowned[0]] == b"u"


def test_the_store_keeps_every_turn_of_a_batch_with_its_blobs(clock: FakeClock) -> None:
    store = MemoryStateStore(clock=clock)
    first, second = blob("first"), blob("second")
    with store.batch():  # one transaction for all three turns
        store.save_turn("fp:1", b"c1", blobs=dict([first]))
        store.save_turn("fp:2", b"c2", blobs=dict([first, second]), parent="fp:1")
        store.save_turn("fp:1", b"c1 again", blobs=dict([first]))
    assert (loaded := store.load_checkpoint("fp:1")) is not None
    assert loaded.checkpoint == b"c1 again"
    store.drop_conversation("fp:1")
    assert store.blobs.get(first[0]) == first[1]  # fp:2 still owns it
    assert audit(store)["conversations"] == 1
    store.close()


_timed_turns = st.lists(
    st.tuples(
        st.sampled_from(["fp:a", "fp:b"]),  # mostly keys saved again in the batch
        st.sampled_from([5.0, 1.0, 3.0, 3.0, 9.0]),  # a clock that may step back
        st.dictionaries(_ids, st.sampled_from([b"x", b"yy"]), max_size=2),
    ),
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(_timed_turns)
def test_a_key_saved_again_in_a_batch_is_one_row_that_leaves_what_each_save_leaves(
    turns: list[tuple[str, float, dict[bytes, bytes]]],
) -> None:
    """Several saves of one key in a batch are written as one checkpoint row (the last
    checkpoint and meta, last used at the latest save): the tables, usage row included,
    are those of each save in its own transaction, whatever order the times come in."""
    ops: list[writes.Op] = [
        _turn(key, b"c%d" % index, blobs, at=at) for index, (key, at, blobs) in enumerate(turns)
    ]
    databases = []
    for batched in (True, False):
        conn = schema.open_memory()
        known = KnownBlobs()
        _apply(conn, [_turn("fp:a", b"before", {}, at=4.0)], known)  # one already saved
        for group in [ops] if batched else [[op] for op in ops]:
            _apply(conn, group, known)
        assert _miscounted(conn) == []
        databases.append(_dump(conn))
    assert databases[0] == databases[1]


def test_a_key_saved_twice_in_a_batch_costs_one_checkpoint_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[int] = []
    write = writes.write_rows

    def counted(conn: sqlite3.Connection, template: str, width: int, rows: list[Row]) -> None:
        if template == writes._SAVE_CHECKPOINT_ROWS:
            written.append(len(rows))
        write(conn, template, width, rows)

    monkeypatch.setattr(writes, "write_rows", counted)
    conn = schema.open_memory()
    ops: list[writes.Op] = [_turn(f"fp:{i % 3}", b"c%d" % i, {}, at=i) for i in range(9)]
    _apply(conn, ops, KnownBlobs())
    assert written == [3]
    saved = conn.execute("SELECT key, checkpoint, saved_at FROM conversations").fetchall()
    assert sorted(saved) == [("fp:0", b"c6", 6.0), ("fp:1", b"c7", 7.0), ("fp:2", b"c8", 8.0)]
