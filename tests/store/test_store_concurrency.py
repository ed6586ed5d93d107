"""Threads in one process share a store; random operation sequences keep the books right."""

from __future__ import annotations

import contextlib
import random
import threading
from pathlib import Path

import pytest
from store_support import FakeClock, audit, blob, contents

from cursor_bridge.store import MemoryStateStore, SqliteStateStore, writes
from cursor_bridge.store.sqlite import _SqliteStore


@pytest.mark.parametrize("kind", ["sqlite", "memory-background"])
def test_threads_writing_and_reading_at_once(kind: str, state_path: Path) -> None:
    threads, rounds = 6, 150
    shared_key, shared = blob("shared by every thread", size=2_000)
    start = threading.Barrier(threads)
    failures: list[BaseException] = []
    store: _SqliteStore = (
        SqliteStateStore(state_path, touch_interval=0)
        if kind == "sqlite"
        else MemoryStateStore(touch_interval=0, background_writes=True)
    )

    with store:

        def worker(n: int) -> None:
            try:
                view = store.conversation_blobs(f"conv-{n}")
                start.wait()
                for i in range(rounds):
                    key, data = blob(f"{n}/{i}", size=100 + i)
                    view.put(key, data)
                    view.put(shared_key, shared)
                    assert view.get(key) == data
                    assert view.get(shared_key) == shared
                    store.save_checkpoint(f"conv-{n}", f"{n}:{i}".encode())
                    loaded = store.load_checkpoint(f"conv-{n}")
                    assert loaded is not None and loaded.checkpoint == f"{n}:{i}".encode()
                    store.stats()
            except BaseException as exc:
                failures.append(exc)

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()

        assert failures == []
        counts = audit(store)
        assert counts["blobs"] == threads * rounds + 1
        assert counts["conversations"] == threads
        (owners,) = (
            store._read().execute("SELECT owners FROM blobs WHERE id = ?", (shared_key,)).fetchone()
        )
        assert owners == threads


def blob_n(n: int, size: int) -> tuple[bytes, bytes]:
    """Blob number *n*: a fixed id whatever the size, so puts replace and gets hit."""
    return blob(f"blob-{n}")[0], blob(f"blob-{n}", size=size)[1]


RUNS = (
    [("memory", seed) for seed in range(8)]
    + [("sqlite", seed) for seed in range(4)]
    + [("memory-background", seed) for seed in range(4)]
)


@pytest.mark.parametrize(("kind", "seed"), RUNS)
def test_random_operations_keep_the_invariants(kind: str, seed: int, tmp_path: Path) -> None:
    """Counters match the rows, the cap holds after every commit, and a conversation that
    is still stored still has every blob it put or got (it is evicted whole or not at all).

    Writes go in windows of 1 to 12 operations committed as one batch (store.batch()), so
    ordering inside a batch (puts, reads, drops, then expiry and the cap) is exercised too;
    on the file store and the background memory store they are committed by a writer thread.

    Long seeded sequences rather than hypothesis: reaching the cap again and again takes
    hundreds of operations, which shrinking-oriented generation rarely produces.
    """
    rng = random.Random(seed)
    clock = FakeClock()
    cap = 8_000
    options = {"clock": clock, "max_bytes": cap, "ttl": 3 * 24 * 3600.0}
    store: _SqliteStore
    if kind == "sqlite":
        store = SqliteStateStore(tmp_path / "state.sqlite3", **options)
    else:
        store = MemoryStateStore(**options, background_writes=kind == "memory-background")
    used: dict[str, set[bytes]] = {}
    done = 0
    with store:
        while done < 400:
            window = rng.choice([1, 1, 1, 2, 4, 12])
            dropped: set[str] = set()
            with store.batch() if window > 1 else contextlib.nullcontext():
                for _ in range(window):
                    done += 1
                    operate(store, rng, clock, used, dropped, batched=window > 1)
            blob_ids, conversations = contents(store)  # flushes
            assert store.stats().total_bytes <= cap
            for name in list(used):
                if name not in conversations:
                    del used[name]  # evicted or expired: it may come back empty later
                else:
                    assert used[name] <= blob_ids, name
        assert store.stats().evicted_conversations > 0  # the sequence did exercise the cap
        audit(store)


def operate(
    store: _SqliteStore,
    rng: random.Random,
    clock: FakeClock,
    used: dict[str, set[bytes]],
    dropped: set[str],
    *,
    batched: bool,
) -> None:
    """One random call, and what the model expects each conversation to keep."""
    kind = rng.choices(
        ["put", "put_unowned", "get", "save", "load", "drop", "wait", "prune"],
        weights=[30, 8, 25, 10, 10, 3, 12, 2],
    )[0]
    conv, n = f"c{rng.randrange(5)}", rng.randrange(20)
    if kind == "put":
        key, data = blob_n(n, rng.choice([0, 10, 400, 1_200, 2_500]))
        store.conversation_blobs(conv).put(key, data)
        used.setdefault(conv, set()).add(key)
    elif kind == "put_unowned":
        store.blobs.put(*blob_n(n, rng.choice([10, 400, 1_200])))
    elif kind == "get":
        key, _ = blob_n(n, 0)
        # Documented: a read through a conversation dropped earlier in the same batch may be
        # served from memory without keeping the blob.
        if store.conversation_blobs(conv).get(key) is not None and conv not in dropped:
            used.setdefault(conv, set()).add(key)
    elif kind == "save":
        store.save_checkpoint(conv, b"k" * rng.choice([0, 50, 500]))
    elif kind == "load":
        store.load_checkpoint(conv)
        if isinstance(store._pending.checkpoints.get(conv), writes.DropConversation):
            used.pop(conv, None)  # it had expired: the load dropped it
            dropped.add(conv)
    elif kind == "drop":
        store.drop_conversation(conv)
        used.pop(conv, None)
        dropped.add(conv)
    elif kind == "wait":
        clock.advance(rng.choice([1.0, 60.0, 3_600.0, 2 * 24 * 3600.0]))
    elif not batched:
        store.prune()  # (waits for the writer: not inside a batch)
