"""The state writer's own CPU per finished turn, without the queue or the thread around it.

    uv run python benchmarks/store_writer.py [--batches 100] [--turns-per-batch 50] [--one-key]
    valgrind --tool=callgrind python benchmarks/store_writer.py --batches 40 --mix 4/2 [--skip]

Applies batches of new-conversation turns (a 144-byte checkpoint and its blobs: SHARED the
same in every conversation, OWN new ones) the way the writer thread commits a batch
(`_apply`: one transaction), on a SQLite file, and prints the writer's CPU per turn (thread
time, median over batches). Thread time is noisy on a shared machine; for A/B comparisons
of small changes run it under callgrind once with --skip (builds the same turns, applies
none) and once without, and compare the difference of the instruction counts.
--one-key files every turn under one key, as benchmarks.cpu and relay.py do (their
conversations all end with the same history): each turn saves that key again with new blobs.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from cursor_bridge.store import SqliteStateStore, writes
from cursor_bridge.store.types import StoredCheckpoint

try:
    from benchmarks.store import turn_blobs
except ModuleNotFoundError:  # run as a script: python benchmarks/store_writer.py
    from store import turn_blobs  # type: ignore[import-not-found,no-redef]

META = {"conversation_id": "5b0e6a0e-3b8a-4f0e-9d51-5a3c1f2e7d10", "model": "gpt-5.4"}
WARMUP = 5  # batches applied first and not counted


def turns(
    rnd: random.Random, first: int, count: int, shared: int, own: int, one_key: bool = False
) -> list[writes.Op]:
    """*count* new conversations' first turns (numbered from *first*): a checkpoint and
    `turn_blobs` (benchmarks/store.py); with *one_key* all under one key."""
    ops: list[writes.Op] = []
    for n in range(first, first + count):
        blobs = turn_blobs(n, 0, shared, own)
        key = "fp:" + hashlib.sha256(str(0 if one_key else n).encode()).hexdigest()[:32]
        stored = StoredCheckpoint(key, rnd.randbytes(144), dict(META), 1e9 + n)
        ops.append(writes.SaveTurn(stored, blobs, (), None))
    return ops


def run(
    root: Path, batches: int, per_batch: int, shared: int, own: int, skip: bool, one_key: bool
) -> float:
    rnd = random.Random(1)
    path = root / f"writer-{per_batch}-{shared}-{own}.sqlite3"
    all_ops = [
        turns(rnd, b * per_batch, per_batch, shared, own, one_key) for b in range(batches + WARMUP)
    ]
    times = []
    with SqliteStateStore(path, background_writes=False) as store:
        for b, ops in enumerate(all_ops):
            if skip:
                continue
            t0 = time.thread_time()
            store._apply(ops, writes.Touches(), 1e9 + b * per_batch, False)
            if b >= WARMUP:
                times.append((time.thread_time() - t0) / per_batch)
    return statistics.median(times) if times else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--turns-per-batch", type=int, nargs="+", default=[50, 5])
    parser.add_argument("--mix", nargs="+", default=["4/2", "0/5"], help="SHARED/OWN blobs")
    parser.add_argument("--skip", action="store_true", help="build the turns, apply none")
    parser.add_argument("--one-key", action="store_true", help="every turn under one key")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for per_batch in args.turns_per_batch:
            for mix in args.mix:
                shared, own = map(int, mix.split("/"))
                cpu = run(Path(tmp), args.batches, per_batch, shared, own, args.skip, args.one_key)
                print(
                    f"{per_batch:3d} turns a batch, {shared} shared + {own} new blobs:"
                    f" writer {cpu * 1e6:6.1f} us CPU per turn (median)"
                )


if __name__ == "__main__":
    main()
