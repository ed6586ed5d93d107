"""A finished turn saved as one unit: checkpoint and blobs, kept and evicted together."""

from __future__ import annotations

from store_support import FakeClock, audit, blob

from cursor_bridge.store import MemoryStateStore
from cursor_bridge.store.sqlite import _SqliteStore


def test_a_turn_is_readable_at_once_and_after_it_commits(store: _SqliteStore) -> None:
    one, two = blob("one"), blob("two")
    store.save_turn("fp:1", b"ckpt", {"conversation_id": "c"}, blobs=dict([one, two]))
    # Visible before the writer commits (queued), from memory.
    peeked = store.peek_checkpoint("fp:1")
    assert peeked is not None and peeked.checkpoint == b"ckpt"
    assert peeked.meta == {"conversation_id": "c"}
    assert store.blobs.get(one[0]) == one[1]
    store.flush()
    assert store.blobs.get(two[0]) == two[1]
    # Still served from memory once committed; and the database agrees.
    peeked = store.peek_checkpoint("fp:1")
    assert peeked is not None and peeked.checkpoint == b"ckpt"
    loaded = store.load_checkpoint("fp:1")
    assert loaded is not None and loaded.checkpoint == b"ckpt"
    assert store.peek_checkpoint("fp:unknown") is None
    counts = audit(store)
    assert counts["blobs"] == 2 and store.stats().checkpoints == 1


def test_a_dropped_turn_takes_its_blobs_and_leaves_memory(store: _SqliteStore) -> None:
    one = blob("one")
    store.save_turn("fp:1", b"ckpt", blobs=dict([one]))
    store.flush()
    store.drop_conversation("fp:1")
    assert store.peek_checkpoint("fp:1") is None
    assert store.load_checkpoint("fp:1") is None
    store.flush()
    assert store.blobs.get(one[0]) is None
    audit(store)


def test_a_checkpoint_keeps_the_blobs_it_used_and_its_parents_blobs(
    store: _SqliteStore,
) -> None:
    first, second, fetched = blob("first"), blob("second"), blob("fetched")
    store.blobs.put(*fetched)  # stored earlier, owned by no conversation
    store.save_turn("fp:1", b"c1", blobs=dict([first]))
    store.save_turn("fp:2", b"c2", blobs=dict([second]), reachable=[fetched[0]], parent="fp:1")
    store.flush()
    store.drop_conversation("fp:1")
    store.flush()
    # fp:2 continued fp:1: what fp:1 owned is still reachable from fp:2.
    assert store.load_checkpoint("fp:2") is not None
    for key, data in (first, second, fetched):
        assert store.blobs.get(key) == data
    store.drop_conversation("fp:2")
    store.flush()
    assert all(store.blobs.get(key) is None for key, _ in (first, second, fetched))
    audit(store)


def test_the_size_cap_never_splits_a_checkpoint_from_its_blobs(clock: FakeClock) -> None:
    """The stop-8 case: the blobs were a unit of their own (the conversation's group), so
    evicting that group left a checkpoint whose blobs were gone (`Blob not found`)."""
    with MemoryStateStore(clock=clock, max_bytes=10_000) as store:
        # A Run put its blobs through the conversation's group, then its turn was saved.
        group = store.conversation_blobs("conv:a")
        a = blob("a", 2_900)
        group.put(*a)
        store.save_turn("fp:a", b"ckpt-a", reachable=[a[0]])
        clock.advance(1)
        for name in ("b", "c"):
            store.save_turn(f"fp:{name}", b"ckpt", blobs=dict([blob(name, 2_900)]))
            clock.advance(1)
        assert store.load_checkpoint("fp:a") is not None  # the checkpoint is in use
        clock.advance(1)
        store.save_turn("fp:d", b"ckpt", blobs=dict([blob("d", 2_900)]))  # over the cap
        store.flush()
        # conv:a was the least recently used unit and went; its blob stayed with fp:a.
        assert store.stats().evicted_conversations >= 1
        assert store.load_checkpoint("fp:a") is not None
        assert store.blobs.get(a[0]) == a[1]
        # Whichever checkpoints the cap removed, no survivor lost a blob it owns.
        for name in "abcd":
            if store.load_checkpoint(f"fp:{name}") is not None:
                key, data = a if name == "a" else blob(name, 2_900)
                assert store.blobs.get(key) == data
        audit(store)
