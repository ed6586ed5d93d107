"""The writer's and the event loop's one-pass helpers do exactly what the general steps
they replace do, on many random inputs: `BatchBlobs.fresh` (holds, then wrote, per blob),
`BlobCache.add` of bytes it already holds, `BlobCache.add_all` (one `add` per blob), and
`Pending.hold`/`retire` (store/pending.py), and the queue's byte count of a turn."""

from __future__ import annotations

import random
from typing import cast

import pytest

from cursor_bridge.store import MemoryStateStore, writes
from cursor_bridge.store.cache import BlobCache, RecentCheckpoints
from cursor_bridge.store.known_blobs import BatchBlobs, KnownBlobs
from cursor_bridge.store.pending import Pending
from cursor_bridge.store.types import StoredCheckpoint

IDS = [bytes([n]) * 4 for n in range(12)]
# A bytes-like value that is not bytes too (fingerprinted by a copy's hash).
DATA: list[bytes] = [b"", b"a", b"bb", b"ccc", cast(bytes, bytearray(b"a")), b"dddd"]


def random_blobs(rng: random.Random) -> dict[bytes, bytes]:
    return {rng.choice(IDS): rng.choice(DATA) for _ in range(rng.randrange(6))}


def state(known: KnownBlobs) -> list[tuple[bytes, int]]:
    return list(known._blobs.items())  # order matters: it decides what is forgotten first


@pytest.mark.parametrize("seed", range(40))
def test_fresh_is_holds_then_wrote_for_each_blob(seed: int) -> None:
    rng = random.Random(seed)
    fast_known, slow_known = KnownBlobs(blob_limit=8), KnownBlobs(blob_limit=8)
    for _ in range(30):
        fast, slow = BatchBlobs(fast_known), BatchBlobs(slow_known)
        for _ in range(rng.randrange(1, 5)):
            if rng.random() < 0.2:
                gone = rng.sample(IDS, 3)
                fast.removed(gone, [])
                slow.removed(gone, [])
            blobs = random_blobs(rng)
            expected = [(b, d) for b, d in blobs.items() if not slow.holds(b, d)]
            slow.wrote(expected)
            assert fast.fresh(blobs) == expected
            probe = random_blobs(rng)  # what each now believes, without writing
            assert [fast.holds(b, d) for b, d in probe.items()] == [
                slow.holds(b, d) for b, d in probe.items()
            ]
        if rng.random() < 0.8:  # else the batch rolled back
            fast.commit()
            slow.commit()
        assert state(fast_known) == state(slow_known)


class SlowCache(BlobCache):
    """BlobCache.add as it was: always discard, then add at the most recent end."""

    def add(self, key: bytes, data: bytes) -> None:
        self.discard(key)
        if len(data) > self.max_item:
            return
        self._items[key] = data
        self.bytes += len(data)
        while self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped)


@pytest.mark.parametrize("seed", range(20))
def test_adding_a_cached_blob_again_is_the_same_as_replacing_it(seed: int) -> None:
    rng = random.Random(seed)
    fast, slow = BlobCache(max_bytes=16), SlowCache(max_bytes=16)
    for _ in range(300):
        key, data = rng.choice(IDS[:6]), rng.choice([b"x", b"yy", b"yy"[:1] + b"y", b"zzz"])
        if rng.random() < 0.1:
            data = b"w" * 3  # over max_item (16 // 8): never kept
        if rng.random() < 0.1:
            fast.discard(key)
            slow.discard(key)
        else:
            fast.add(key, data)
            slow.add(key, data)
        assert list(fast._items.items()) == list(slow._items.items())
        assert fast.bytes == slow.bytes


@pytest.mark.parametrize("seed", range(30))
def test_adding_a_turns_blobs_at_once_is_adding_each_in_order(seed: int) -> None:
    """Replacing, re-adding equal bytes, refusing oversized blobs and evicting (within the
    same call too: a budget of 16 holds a few) all as `add` one blob at a time does."""
    rng = random.Random(seed)
    # 12 ids of up to 2 bytes (3 is over max_item) overflow the budget of 20: evictions.
    fast, slow = BlobCache(max_bytes=20), BlobCache(max_bytes=20)
    for _ in range(150):
        blobs = {
            rng.choice(IDS): rng.choice([b"x", b"yy", b"yy"[:1] + b"y", b"zz", b"www"])
            for _ in range(rng.randrange(7))
        }
        if rng.random() < 0.1:
            key = rng.choice(IDS)
            fast.discard(key)
            slow.discard(key)
        fast.add_all(blobs)
        for key, data in blobs.items():
            slow.add(key, data)
        assert list(fast._items.items()) == list(slow._items.items())
        assert fast.bytes == slow.bytes == sum(len(d) for d in fast._items.values())


def stored(key: str, n: int) -> StoredCheckpoint:
    return StoredCheckpoint(key, b"c%d" % n, {}, float(n))


def random_op(rng: random.Random, n: int) -> writes.Op:
    key = rng.choice(["fp:a", "fp:b", "fp:c"])
    kind = rng.random()
    if kind < 0.5:
        return writes.SaveTurn(stored(key, n), random_blobs(rng), ())
    if kind < 0.7:
        blob = rng.choice(IDS)
        return writes.PutBlob(rng.choice([key, None]), blob, rng.choice(DATA), 0.0)
    if kind < 0.8:
        return writes.SaveCheckpoint(stored(key, n))
    if kind < 0.9:
        return writes.DropConversation(key)
    return writes.Barrier()


def slow_hold(
    pending: Pending, op: writes.PutBlob | writes.SaveTurn, key: bytes, data: bytes
) -> None:
    """The store's `_hold`, as it was, for one blob."""
    replaced = pending.blobs.get(key)
    if replaced is not None:
        pending.bytes -= len(replaced[1])
    pending.blobs[key] = (op, data)
    pending.bytes += len(data)


def slow_retire(pending: Pending, ops: list[writes.Op], recent: RecentCheckpoints) -> None:
    """The store's `_committed_batch` retiring, as it was: one op, one blob at a time."""

    def retire_blob(op: writes.PutBlob | writes.SaveTurn, key: bytes) -> None:
        held = pending.blobs.get(key)
        if held is not None and held[0] is op:
            del pending.blobs[key]
            pending.bytes -= len(held[1])

    for op in ops:
        if isinstance(op, writes.PutBlob):
            retire_blob(op, op.key)
        elif isinstance(op, writes.SaveTurn):
            for key in op.blobs:
                retire_blob(op, key)
        if (
            isinstance(op, writes.SaveCheckpoint | writes.SaveTurn | writes.DropConversation)
            and pending.checkpoints.get(op.conversation) is op
        ):
            del pending.checkpoints[op.conversation]
            if not isinstance(op, writes.DropConversation):
                recent.add(op.stored)


def recent_state(recent: RecentCheckpoints) -> list[tuple[str, bytes]]:
    return [(key, s.checkpoint) for key, s in recent._items.items()]


@pytest.mark.parametrize("seed", range(40))
def test_holding_and_retiring_in_one_pass_match_one_blob_at_a_time(seed: int) -> None:
    rng = random.Random(seed)
    fast, slow = Pending(), Pending()
    fast_recent, slow_recent = RecentCheckpoints(1 << 20), RecentCheckpoints(1 << 20)
    cache = BlobCache()
    queued: list[writes.Op] = []
    for n in range(200):
        op = random_op(rng, n)
        if isinstance(op, writes.SaveTurn):
            # What it returns is what the writer's queue counts of the turn's blobs.
            held = fast.hold(op, op.blobs, cache)
            assert held + len(op.stored.checkpoint) == writes.size_of(op)
            for key, data in op.blobs.items():
                slow_hold(slow, op, key, data)
        elif isinstance(op, writes.PutBlob):
            fast.hold(op, {op.key: op.data}, cache)
            slow_hold(slow, op, op.key, op.data)
        if isinstance(op, writes.SaveTurn | writes.SaveCheckpoint | writes.DropConversation):
            fast.checkpoints[op.conversation] = op
            slow.checkpoints[op.conversation] = op
        queued.append(op)
        if rng.random() < 0.2:  # a batch commits what queued before it
            cut = rng.randrange(len(queued) + 1)
            batch, queued = queued[:cut], queued[cut:]
            fast.retire(batch, fast_recent)
            slow_retire(slow, batch, slow_recent)
        assert fast.blobs == slow.blobs and fast.checkpoints == slow.checkpoints
        assert fast.bytes == slow.bytes == sum(len(d) for _, d in fast.blobs.values())
        assert recent_state(fast_recent) == recent_state(slow_recent)
    fast.retire(queued, fast_recent)
    assert not fast.blobs and not fast.checkpoints and fast.bytes == 0


def test_a_held_blob_is_cached_too() -> None:
    pending, cache = Pending(), BlobCache()
    op = writes.SaveTurn(stored("fp:a", 1), {b"k": b"v"}, ())
    pending.hold(op, op.blobs, cache)
    assert cache.get(b"k") == b"v"


def test_a_queued_turn_counts_the_bytes_it_writes() -> None:
    """`save_turn` hands the queue the size `Pending.hold` measured: `size_of`'s figure."""
    store = MemoryStateStore()
    ops = []
    with store.batch():  # nothing commits: the queue keeps its count
        store.save_turn("fp:a", b"ckpt", blobs={b"k1": b"abc", b"k2": b"defgh"})
        store.save_turn("fp:b", b"c", blobs={b"k1": b"xy"})  # one replaced while queued
        store.save_turn("fp:c", b"c3")
        ops = list(store._queue)
        assert store._queued_bytes == sum(map(writes.size_of, ops)) == 4 + 8 + 1 + 2 + 2
    store.close()
