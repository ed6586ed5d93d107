"""Blobs and checkpoints go in and come back byte-for-byte, in both stores."""

from __future__ import annotations

import pytest
from store_support import FakeClock, audit, blob

from cursor_bridge.protocol.blobs import BlobStore
from cursor_bridge.store import StateStoreError, StoredCheckpoint
from cursor_bridge.store.sqlite import _SqliteStore


def test_blob_round_trip_through_both_views(store: _SqliteStore) -> None:
    key, data = blob("a user message")
    other_key, other_data = blob("an assistant step", size=300_000)
    view: BlobStore = store.conversation_blobs("conv-1")
    view.put(key, data)
    store.blobs.put(other_key, other_data)

    assert view.get(key) == data
    assert store.blobs.get(key) == data  # one content-addressed space
    assert view.get(other_key) == other_data
    assert store.blobs.get(blob("never stored")[0]) is None
    store.flush()  # stats count committed rows
    stats = store.stats()
    assert (stats.blob_count, stats.blob_bytes) == (2, len(data) + len(other_data))
    audit(store)


def test_ids_are_stored_as_given_and_a_second_put_replaces(store: _SqliteStore) -> None:
    # The id is trusted, not recomputed: a short id and a mismatched id are kept as they are.
    store.blobs.put(b"short-id", b"one")
    store.blobs.put(b"\x00" * 32, b"")
    assert store.blobs.get(b"short-id") == b"one"
    assert store.blobs.get(b"\x00" * 32) == b""
    store.blobs.put(b"short-id", b"three")
    assert store.blobs.get(b"short-id") == b"three"
    store.flush()
    assert store.stats().blob_bytes == len(b"three")
    audit(store)


def test_checkpoint_round_trip_replaces_and_keeps_meta(
    store: _SqliteStore, clock: FakeClock
) -> None:
    raw = bytes(range(256)) * 10
    store.save_checkpoint("conv-1", raw, {"model": "gpt-5.4", "fingerprint": "abc"})
    saved_at = clock.now
    clock.advance(30)
    assert store.load_checkpoint("conv-1") == StoredCheckpoint(
        "conv-1", raw, {"model": "gpt-5.4", "fingerprint": "abc"}, saved_at
    )
    store.save_checkpoint("conv-1", b"newer")
    stored = store.load_checkpoint("conv-1")
    assert stored is not None
    assert (stored.checkpoint, dict(stored.meta), stored.saved_at) == (b"newer", {}, clock.now)
    assert store.load_checkpoint("conv-2") is None
    store.flush()
    stats = store.stats()
    assert (stats.conversations, stats.checkpoints, stats.checkpoint_bytes) == (1, 1, 5)


def test_conversation_with_blobs_but_no_checkpoint_loads_none(store: _SqliteStore) -> None:
    key, data = blob("seeded")
    store.conversation_blobs("conv-1").put(key, data)
    assert store.load_checkpoint("conv-1") is None
    store.flush()
    assert store.stats().conversations == 1


def test_drop_conversation_keeps_blobs_another_conversation_uses(store: _SqliteStore) -> None:
    shared_key, shared = blob("system prompt")
    own_key, own = blob("only in conv-1")
    store.conversation_blobs("conv-1").put(shared_key, shared)
    store.conversation_blobs("conv-1").put(own_key, own)
    # conv-2 uses the shared blob by reading it (the backend's get), not by writing it.
    assert store.conversation_blobs("conv-2").get(shared_key) == shared
    store.save_checkpoint("conv-1", b"ckpt-1")

    store.drop_conversation("conv-1")

    assert store.load_checkpoint("conv-1") is None  # at once, even before the drop commits
    store.flush()
    assert store.blobs.get(own_key) is None
    assert store.blobs.get(shared_key) == shared
    assert audit(store) == {"blobs": 1, "blob_bytes": len(shared), "conversations": 1}


def test_drop_of_unknown_conversation_is_harmless(store: _SqliteStore) -> None:
    store.drop_conversation("nobody")
    store.flush()
    assert store.stats().conversations == 0


def test_cache_serves_repeated_reads(store: _SqliteStore) -> None:
    key, data = blob("hot", size=1024)
    store.blobs.put(key, data)
    store.flush()  # reads of a write still queued are served from the queue, not the cache
    for _ in range(5):
        assert store.blobs.get(key) == data
    stats = store.stats()
    assert stats.cache_hits == 5
    assert stats.cache_bytes == 1024


def test_closed_store_raises_a_clear_error(store: _SqliteStore) -> None:
    store.close()
    store.close()  # idempotent
    with pytest.raises(StateStoreError, match="closed"):
        store.blobs.get(b"k" * 32)
    with pytest.raises(StateStoreError, match="closed"):
        store.save_checkpoint("c", b"x")


def test_invalid_limits_are_refused() -> None:
    from cursor_bridge.store import MemoryStateStore

    with pytest.raises(ValueError):
        MemoryStateStore(ttl=0)
    with pytest.raises(ValueError):
        MemoryStateStore(max_bytes=-1)
