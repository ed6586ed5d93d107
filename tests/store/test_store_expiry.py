"""TTL expiry and the size cap: what goes, in which order, and what is kept together."""

from __future__ import annotations

from store_support import DAY, FakeClock, audit, blob, contents

from cursor_bridge.store import MemoryStateStore, PruneResult
from cursor_bridge.store.sqlite import _SqliteStore

TTL = 7 * DAY


def test_checkpoint_loaded_after_ttl_is_gone_with_its_blobs(
    store: _SqliteStore, clock: FakeClock
) -> None:
    key, data = blob("turn 1")
    store.conversation_blobs("conv").put(key, data)
    store.save_checkpoint("conv", b"ckpt")
    clock.advance(TTL + 1)

    assert store.load_checkpoint("conv") is None
    store.flush()  # the expired conversation is dropped by the writer
    assert store.blobs.get(key) is None
    stats = store.stats()
    assert (stats.conversations, stats.blob_count, stats.expired_conversations) == (0, 0, 1)
    audit(store)


def test_use_keeps_a_conversation_alive_past_one_ttl(store: _SqliteStore, clock: FakeClock) -> None:
    key, data = blob("turn 1")
    store.conversation_blobs("conv").put(key, data)
    store.save_checkpoint("conv", b"ckpt")
    for _ in range(3):
        clock.advance(TTL - 1)
        assert store.load_checkpoint("conv") is not None
    # The blob itself was never read again, yet lives as long as its conversation does.
    assert store.prune() == PruneResult()
    assert store.blobs.get(key) == data
    clock.advance(TTL + 1)
    assert store.load_checkpoint("conv") is None


def test_a_read_through_the_conversation_view_counts_as_use(
    store: _SqliteStore, clock: FakeClock
) -> None:
    key, data = blob("turn 1")
    view = store.conversation_blobs("conv")
    view.put(key, data)
    store.save_checkpoint("conv", b"ckpt")
    clock.advance(TTL - 10)
    assert view.get(key) == data  # queued touch, written by the next write or prune
    clock.advance(20)
    assert store.prune().expired_conversations == 0
    assert store.load_checkpoint("conv") is not None


def test_unowned_blobs_expire_on_their_own_last_access(
    store: _SqliteStore, clock: FakeClock
) -> None:
    old_key, old = blob("old")
    read_key, read = blob("read recently")
    store.blobs.put(old_key, old)
    store.blobs.put(read_key, read)
    clock.advance(TTL / 2)
    assert store.blobs.get(read_key) == read
    clock.advance(TTL / 2 + 1)

    result = store.prune()

    assert (result.expired_blobs, result.freed_bytes) == (1, len(old))
    assert store.blobs.get(old_key) is None
    assert store.blobs.get(read_key) == read


def test_expiry_also_runs_on_later_calls_without_prune(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, prune_interval=60) as store:
        key, data = blob("forgotten")
        store.blobs.put(key, data)
        clock.advance(TTL + 1)
        other_key, other = blob("new")
        store.blobs.put(other_key, other)  # any call past prune_interval prunes
        assert store.stats().expired_blobs == 1
        assert store.stats().blob_count == 1


def conversation(store: _SqliteStore, name: str, size: int) -> list[bytes]:
    """A conversation with one blob of *size* bytes and a 10-byte checkpoint."""
    key, data = blob(name, size=size)
    store.conversation_blobs(name).put(key, data)
    store.save_checkpoint(name, b"0123456789")
    return [key]


def test_size_cap_evicts_least_recently_used_conversations_whole(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, max_bytes=10_000) as store:
        blobs_of = {}
        for name in ("a", "b", "c"):
            blobs_of[name] = conversation(store, name, 2_900)
            clock.advance(1)
        assert store.load_checkpoint("a") is not None  # a is now more recent than b and c
        clock.advance(1)

        blobs_of["d"] = conversation(store, "d", 2_900)  # 11,640 bytes > cap

        # Evicted down to 90% of the cap: only the least recently used, b, had to go.
        assert store.load_checkpoint("b") is None
        assert store.blobs.get(blobs_of["b"][0]) is None
        for name in ("a", "c", "d"):
            assert store.load_checkpoint(name) is not None
            assert store.blobs.get(blobs_of[name][0]) is not None
        stats = store.stats()
        assert (stats.evicted_conversations, stats.evicted_blobs) == (1, 1)
        assert stats.total_bytes == 3 * 2_910
        audit(store)


def test_get_through_a_view_refreshes_recency_for_eviction(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, max_bytes=10_000) as store:
        blobs_of = {name: conversation(store, name, 2_900) for name in ("a", "b", "c")}
        clock.advance(1)
        # The backend reads a's blob during a Run: a is now in use.
        assert store.conversation_blobs("a").get(blobs_of["a"][0]) is not None
        clock.advance(1)
        conversation(store, "d", 2_900)
        assert store.load_checkpoint("a") is not None
        assert {name for name in "bc" if store.load_checkpoint(name) is None} == {"b"}


def test_unowned_blobs_and_conversations_share_one_lru_order(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, max_bytes=10_000) as store:
        stray_key, stray = blob("stray", size=1_500)
        store.blobs.put(stray_key, stray)
        clock.advance(1)
        [a_key] = conversation(store, "a", 3_900)
        clock.advance(1)
        late_key, late = blob("late stray", size=1_000)
        store.blobs.put(late_key, late)
        clock.advance(1)
        [b_key] = conversation(store, "b", 3_900)  # 10,310 bytes: over the cap

        # The oldest unit, the first stray blob, is enough to get under 9,000.
        assert contents(store) == ({a_key, late_key, b_key}, {"a", "b"})
        assert store.stats().total_bytes == 8_820
        clock.advance(1)
        [c_key] = conversation(store, "c", 3_900)  # the next oldest unit: conversation a, whole
        assert contents(store) == ({late_key, b_key, c_key}, {"b", "c"})
        assert store.stats().evicted_blobs == 2  # the stray one and a's
        audit(store)


def test_a_blob_shared_with_a_live_conversation_survives_eviction(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, max_bytes=10_000) as store:
        shared_key, shared = blob("system prompt", size=500)
        store.conversation_blobs("old").put(shared_key, shared)
        conversation(store, "old", 4_000)
        clock.advance(1)
        store.conversation_blobs("new").put(shared_key, shared)
        conversation(store, "new", 4_000)
        clock.advance(1)
        conversation(store, "newest", 2_000)
        assert store.load_checkpoint("old") is None
        assert store.blobs.get(shared_key) == shared
        audit(store)


def test_cap_holds_after_every_write(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, max_bytes=50_000) as store:
        for i in range(200):
            conversation(store, f"conv-{i}", 700 + (i * 37) % 900)
            key, data = blob(f"stray-{i}", size=300)
            store.blobs.put(key, data)
            clock.advance(1)
            assert store.stats().total_bytes <= 50_000
        assert store.stats().evicted_conversations > 0
        audit(store)


def test_a_blob_larger_than_the_cap_is_not_kept_nor_served_from_cache(clock: FakeClock) -> None:
    with MemoryStateStore(clock=clock, max_bytes=1_000) as store:
        small_key, small = blob("small", size=100)
        store.blobs.put(small_key, small)
        clock.advance(1)
        huge_key, huge = blob("huge", size=2_000)
        store.blobs.put(huge_key, huge)
        assert store.blobs.get(huge_key) is None
        assert store.blobs.get(small_key) is None  # older, so it went first
        assert store.stats().total_bytes == 0
