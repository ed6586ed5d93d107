"""What the writer already knows is stored is not written again, and never wrongly so:
replaced bytes, drops, eviction, another process and a restart all still leave every
saved checkpoint with its blobs."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from store_support import FakeClock, audit, blob, committed_bytes, links_made, statements, writes_of

from cursor_bridge.store import MemoryStateStore, SqliteStateStore, StateStoreError, eviction
from cursor_bridge.store.known_blobs import BatchBlobs, KnownBlobs
from cursor_bridge.store.sqlite import _SqliteStore


def test_blobs_already_stored_are_linked_not_written_again(store: _SqliteStore) -> None:
    system, first, second = blob("system prompt"), blob("user: one"), blob("user: two")
    store.save_turn("fp:1", b"c1", blobs=dict([system, first]))
    with statements(store) as seen:
        store.save_turn("fp:2", b"c2", blobs=dict([system, second]))
    # Only the new blob is written; both are linked to the new checkpoint.
    assert writes_of(seen, "blob_data") == 1 and writes_of(seen, "blobs") == 1
    store.drop_conversation("fp:1")
    store.flush()
    assert committed_bytes(store, system[0]) == system[1]  # fp:2 owns it
    assert committed_bytes(store, first[0]) is None
    audit(store)


def test_other_bytes_under_a_known_id_still_replace_them(store: _SqliteStore) -> None:
    store.save_turn("fp:1", b"c1", blobs={b"id": b"old bytes"})
    store.save_turn("fp:2", b"c2", blobs={b"id": b"new bytes"})
    assert committed_bytes(store, b"id") == b"new bytes"
    store.save_turn("fp:3", b"c3", blobs={b"id": b"old bytes"})  # and back again
    assert committed_bytes(store, b"id") == b"old bytes"
    audit(store)


def test_a_blob_dropped_in_the_same_batch_is_written_again(store: _SqliteStore) -> None:
    shared = blob("shared")
    store.save_turn("fp:1", b"c1", blobs=dict([shared]))
    store.flush()
    with store.batch():  # one transaction: the drop runs before the new turn
        store.drop_conversation("fp:1")
        store.save_turn("fp:2", b"c2", blobs=dict([shared]))
    assert committed_bytes(store, shared[0]) == shared[1]
    assert store.load_checkpoint("fp:2") is not None
    audit(store)


def test_a_blob_dropped_in_an_earlier_batch_is_written_again(store: _SqliteStore) -> None:
    shared = blob("shared")
    store.save_turn("fp:1", b"c1", blobs=dict([shared]))
    store.drop_conversation("fp:1")
    store.flush()
    assert committed_bytes(store, shared[0]) is None
    store.save_turn("fp:2", b"c2", blobs=dict([shared]))
    assert committed_bytes(store, shared[0]) == shared[1]
    audit(store)


def test_a_blob_the_size_cap_evicted_is_written_again(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, max_bytes=10_000) as store:
        kept = blob("kept", 3_000)
        store.save_turn("fp:a", b"ckpt", blobs=dict([kept]))
        for name in "bcd":
            clock.advance(1)
            store.save_turn(f"fp:{name}", b"ckpt", blobs=dict([blob(name, 3_000)]))
        assert store.stats().evicted_conversations >= 1
        assert committed_bytes(store, kept[0]) is None  # fp:a was the oldest
        clock.advance(1)
        store.save_turn("fp:e", b"ckpt", blobs=dict([kept]))
        assert committed_bytes(store, kept[0]) == kept[1]
        audit(store)


def test_a_key_saved_again_keeps_its_links_and_makes_only_new_ones(store: _SqliteStore) -> None:
    one, two = blob("one"), blob("two")
    store.save_turn("fp:1", b"at turn end", blobs=dict([one]))
    with statements(store) as seen:  # the Run's final checkpoint, same key, one more blob
        store.save_turn("fp:1", b"final", blobs=dict([one, two]))
    assert links_made(seen) == 1
    with store.batch():  # dropped and saved again in one transaction: links made again
        store.drop_conversation("fp:1")
        store.save_turn("fp:1", b"again", blobs=dict([one]))
    store.save_turn("fp:other", b"c", blobs=dict([one]))
    store.drop_conversation("fp:other")  # fp:1 must still own `one`
    store.flush()
    assert committed_bytes(store, one[0]) == one[1]
    assert committed_bytes(store, two[0]) is None
    audit(store)


def test_another_process_removing_a_known_blob_is_noticed(state_path: Path) -> None:
    shared = blob("shared")
    with (
        SqliteStateStore(state_path, background_writes=False) as mine,
        SqliteStateStore(state_path, background_writes=False) as theirs,
    ):
        mine.save_turn("fp:1", b"c1", blobs=dict([shared]))
        theirs.drop_conversation("fp:1")  # removes the blob `mine` remembers as stored
        theirs.flush()
        mine.save_turn("fp:2", b"c2", blobs=dict([shared]))
        assert committed_bytes(mine, shared[0]) == shared[1]
        audit(mine)


def test_a_restarted_store_writes_what_it_no_longer_knows(
    state_path: Path, clock: FakeClock
) -> None:
    shared = blob("shared")
    with SqliteStateStore(state_path, clock=clock) as store:
        store.save_turn("fp:1", b"c1", blobs=dict([shared]))
    with SqliteStateStore(state_path, clock=clock) as other:  # between two runs
        other.drop_conversation("fp:1")
    with SqliteStateStore(state_path, clock=clock) as reopened:
        reopened.save_turn("fp:2", b"c2", blobs=dict([shared]))
        assert committed_bytes(reopened, shared[0]) == shared[1]
        stored = reopened.load_checkpoint("fp:2")
        assert stored is not None and stored.checkpoint == b"c2"
        audit(reopened)


def test_what_is_known_is_bounded() -> None:
    known = KnownBlobs(blob_limit=2, key_limit=1)
    for n in range(3):
        known.remember(bytes([n]), n)
    assert len(known) == 2
    assert not known.holds(b"\x00", 0)  # the oldest went
    assert known.holds(b"\x02", 2) and not known.holds(b"\x02", 3)
    known.remember_links("a", {b"x"})
    known.remember_links("b", {b"y"})
    assert known.links("a") == set() and known.links("b") == {b"y"}


def test_a_batch_that_rolls_back_teaches_nothing(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = blob("shared")
    real_total = eviction.total_bytes
    fail: list[bool] = []

    def total_bytes(conn: sqlite3.Connection) -> int:
        if fail.pop() if fail else False:
            raise sqlite3.OperationalError("disk I/O error")
        return real_total(conn)

    monkeypatch.setattr(eviction, "total_bytes", total_bytes)
    with MemoryStateStore(clock=clock) as store:
        fail.append(True)
        with pytest.raises(StateStoreError):
            store.save_turn("fp:1", b"c1", blobs=dict([shared]))  # written, then rolled back
        assert committed_bytes(store, shared[0]) == shared[1]  # the retry wrote it
        assert store.load_checkpoint("fp:1") is not None
        audit(store)


def test_bytes_like_blobs_are_stored_and_known(store: _SqliteStore) -> None:
    store.save_turn("fp:1", b"c1", blobs={b"id": bytearray(b"bytes")})  # type: ignore[dict-item]
    store.blobs.put(b"other", memoryview(b"view"))  # type: ignore[arg-type]
    store.save_turn("fp:2", b"c2", blobs={b"id": b"bytes"})
    assert committed_bytes(store, b"id") == b"bytes"
    assert committed_bytes(store, b"other") == b"view"
    audit(store)


@pytest.mark.parametrize("seed", range(20))
def test_a_batch_commits_what_remember_and_forget_one_at_a_time_would(seed: int) -> None:
    """`BatchBlobs.commit` inlines `remember`/`forget`: the same blobs, in the same LRU
    order, within the same bound."""
    rng = random.Random(seed)
    fast, slow = KnownBlobs(blob_limit=5), KnownBlobs(blob_limit=5)
    for _ in range(30):
        batch = BatchBlobs(fast)
        steps: list[tuple[bytes, bytes | None]] = []
        for _ in range(rng.randrange(8)):
            blob = bytes([rng.randrange(10)])
            if rng.random() < 0.3:
                batch.removed([blob], [])
                steps.append((blob, None))
            else:
                data = bytes([rng.randrange(3)])
                batch.wrote([(blob, data)])
                steps.append((blob, data))
        batch.commit()
        last: dict[bytes, bytes | None] = {}
        for blob, data in steps:  # a batch keeps each blob's last change, first-seen order
            last[blob] = data
        for blob, data in last.items():
            if data is None:
                slow.forget(blob)
            else:
                slow.remember(blob, hash(data))
        assert list(fast._blobs.items()) == list(slow._blobs.items())
