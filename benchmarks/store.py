"""State store latency and throughput: what a Run pays for each KV blob get/set.

    uv run python benchmarks/store.py [--count 2000] [--dir /tmp] [--no-contention]

For 1 KiB and 256 KiB blobs (256 KiB: a fifth of --count calls), on a SQLite file in a
temporary directory (under --dir):
  put, committed in the call   background_writes=False: each put is its own transaction,
             in the caller (what the event loop would pay without the writer thread)
  put        the default: queued, the writer thread commits batches
  get warm   recently used blobs, in the read cache
  get cold   a second store on the same file, empty cache (one indexed SELECT)
  put+evict  puts into a store at its size cap (the writer evicts oldest conversations)
  put, other process writing   the same puts while a child process writes blobs to the
             same file as fast as it can
plus checkpoint save/load, and finished turns (`save_turn`, what the engine writes at each
turn end): CPU per turn of the caller (the event loop) and of the writer thread, for new
conversations whose blobs are partly shared (system prompt, tools) and for one conversation
whose turns each continue the last (a chain: a turn must not cost more as it grows).
Prints per-call latency (p50 / p99 / max, microseconds: what the
event loop pays) and throughput; for writes the throughput includes the final flush(), so
it is committed throughput. A put waits only when more than max_pending_bytes (64 MiB) are
queued, which sustained 256 KiB puts at full speed do reach (see max).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from cursor_bridge.store import SqliteStateStore

SIZES = {"1 KiB": 1024, "256 KiB": 256 * 1024}


def payloads(count: int, size: int, tag: str) -> list[tuple[bytes, bytes]]:
    base = os.urandom(size)
    out = []
    for i in range(count):
        data = f"{tag}-{i:08d}".encode() + base[: size - 17]
        data = data[:size]
        out.append((hashlib.sha256(data).digest(), data))
    return out


def measure(
    label: str,
    size: int,
    calls: list[Callable[[], object]],
    flush: Callable[[], object] | None = None,
) -> None:
    """Per-call latency, and throughput including the final flush (so: committed)."""
    times = []
    start = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
    if flush is not None:
        flush()
    elapsed = time.perf_counter() - start
    times.sort()

    def pct(q: float) -> float:
        return times[min(len(times) - 1, round(q * (len(times) - 1)))] / 1000

    ops = len(calls) / elapsed
    mib = ops * size / (1024 * 1024)
    print(
        f"  {label:<36} p50 {pct(0.5):7.1f}  p99 {pct(0.99):8.1f}  max {times[-1] / 1000:9.1f} us"
        f"  {ops:9.0f} ops/s {mib:7.1f} MiB/s"
    )


def bench_size(root: Path, name: str, size: int, count: int, contention: bool) -> None:
    print(f"{name} blobs ({count} calls per line)")
    path = root / f"state-{size}.sqlite3"
    with SqliteStateStore(path, background_writes=False) as direct:
        blobs = payloads(count, size, "sync")
        measure(
            "put, committed in the call (no thread)",
            size,
            [lambda k=k, d=d: direct.conversation_blobs("sync").put(k, d) for k, d in blobs],
        )
    with SqliteStateStore(path) as store:
        blobs = payloads(count, size, "a")
        views = [store.conversation_blobs(f"conv-{i // 20}") for i in range(count)]
        measure(
            "put (queued; writer thread commits)",
            size,
            [lambda v=v, k=k, d=d: v.put(k, d) for v, (k, d) in zip(views, blobs, strict=True)],
            store.flush,
        )
        recent = blobs[-max(1, min(count, store._cache.max_bytes // (2 * size))) :]
        warm = [recent[i % len(recent)] for i in range(count)]
        for k, _ in recent:
            store.blobs.get(k)
        measure("get warm (read cache)", size, [lambda k=k: store.blobs.get(k) for k, _ in warm])
        store.flush()
        with SqliteStateStore(path, cache_bytes=0) as cold:
            measure(
                "get cold (SQLite read)",
                size,
                [lambda k=k: cold.blobs.get(k) for k, _ in blobs],
            )
        repeat = blobs[: max(count // 4, 1)] * 4
        measure(
            "put again (same id and bytes)",
            size,
            [lambda k=k, d=d: store.blobs.put(k, d) for k, d in repeat],
            store.flush,
        )

    cap = 200 * size + 64 * 1024
    with SqliteStateStore(root / f"capped-{size}.sqlite3", max_bytes=cap) as capped:
        fill = payloads(200, size, "fill")
        for i, (k, d) in enumerate(fill):
            capped.conversation_blobs(f"fill-{i // 10}").put(k, d)
        capped.flush()
        more = payloads(count, size, "more")
        measure(
            f"put+evict (at cap {cap // 1024} KiB)",
            size,
            [
                lambda i=i, k=k, d=d: capped.conversation_blobs(f"more-{i // 10}").put(k, d)
                for i, (k, d) in enumerate(more)
            ],
            capped.flush,
        )
        print(f"  {'':36} evicted {capped.stats().evicted_conversations} conversations")

    if contention:
        shared = root / f"shared-{size}.sqlite3"
        with SqliteStateStore(shared) as store:
            child = subprocess.Popen([sys.executable, "-c", _WRITER, str(shared), str(size)])
            try:
                _wait_for_writes(shared)
                blobs = payloads(count, size, "c")
                measure(
                    "put, other process writing",
                    size,
                    [lambda k=k, d=d: store.conversation_blobs("mine").put(k, d) for k, d in blobs],
                    store.flush,
                )
            finally:
                child.terminate()
                child.wait()


_WRITER = textwrap.dedent(
    """
    import hashlib, os, sys
    from pathlib import Path
    from cursor_bridge.store import SqliteStateStore
    size = int(sys.argv[2])
    with SqliteStateStore(Path(sys.argv[1])) as store:
        view = store.conversation_blobs("theirs")
        i = 0
        while True:
            data = i.to_bytes(8, "big") + os.urandom(size - 8)
            view.put(hashlib.sha256(data).digest(), data)
            i += 1
    """
)


def _wait_for_writes(path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        conn = sqlite3.connect(path)
        try:
            (n,) = conn.execute("SELECT blob_count FROM usage").fetchone()
        finally:
            conn.close()
        if n > 10:
            return
        time.sleep(0.05)
    raise RuntimeError("writer process did not start")


def bench_checkpoints(root: Path, count: int) -> None:
    print(f"checkpoints, 4 KiB ({count} calls each)")
    with SqliteStateStore(root / "checkpoints.sqlite3") as store:
        raw = os.urandom(4096)
        keys = [f"conv-{i % 50}" for i in range(count)]
        measure(
            "save_checkpoint",
            4096,
            [lambda k=k: store.save_checkpoint(k, raw, {"model": "m"}) for k in keys],
            store.flush,
        )
        measure("load_checkpoint", 4096, [lambda k=k: store.load_checkpoint(k) for k in keys])


def turn_blobs(conversation: int, turn: int, shared: int, own: int) -> dict[bytes, bytes]:
    """A turn's blobs: *shared* the same in every conversation, *own* new ones."""
    out = {}
    for n in range(shared):
        data = f"shared blob {n} ".encode() * 8
        out[hashlib.sha256(data).digest()] = data
    for n in range(own):
        data = f"conversation {conversation} turn {turn} blob {n} ".encode() * 3
        out[hashlib.sha256(data).digest()] = data
    return out


def measure_turns(label: str, store: SqliteStateStore, turns: list[TurnArgs]) -> None:
    """CPU per turn: the caller's (what the event loop pays) and the writer thread's, with
    the caller pausing LINGER-sized gaps as a busy server's turns would arrive."""
    assert store._thread is not None and store._thread.ident is not None
    writer_clock = time.pthread_getcpuclockid(store._thread.ident)
    store.flush()
    writer_before = time.clock_gettime(writer_clock)
    caller = 0.0
    for n, (key, checkpoint, blobs, parent) in enumerate(turns):
        t0 = time.thread_time()
        store.save_turn(key, checkpoint, META, blobs=blobs, parent=parent)
        caller += time.thread_time() - t0
        if n % 20 == 19:
            time.sleep(0.02)
    store.flush()
    writer = time.clock_gettime(writer_clock) - writer_before
    count = len(turns)
    print(
        f"  {label:<44} caller {caller / count * 1e6:6.1f} us  writer thread"
        f" {writer / count * 1e6:6.1f} us CPU per turn"
    )


TurnArgs = tuple[str, bytes, dict[bytes, bytes], str | None]
META = {"conversation_id": "5b0e6a0e-3b8a-4f0e-9d51-5a3c1f2e7d10", "model": "gpt-5.4"}


def bench_turns(root: Path, count: int) -> None:
    print(f"finished turns (save_turn), {count} each, 144-byte checkpoints")
    with SqliteStateStore(root / "turns.sqlite3") as store:
        fresh: list[TurnArgs] = [
            (f"fp:new-{n}", os.urandom(144), turn_blobs(n, 0, 4, 2), None) for n in range(count)
        ]
        measure_turns("new conversations, 4 of 6 blobs shared", store, fresh)
        chain: list[TurnArgs] = [
            (f"fp:chain-{n}", os.urandom(144), turn_blobs(-1, n, 0, 4), f"fp:chain-{n - 1}")
            for n in range(count)
        ]
        third = count // 3
        for start in range(0, third * 3, third):
            part = chain[start : start + third]
            measure_turns(f"one conversation, turns {start + 1}-{start + third}", store, part)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--dir", default=None, help="parent of the temporary directory")
    parser.add_argument("--no-contention", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        print(f"SQLite {sqlite3.sqlite_version}, files in {root} (synchronous=NORMAL, WAL)")
        for name, size in SIZES.items():
            count = args.count if size <= 4096 else max(args.count // 5, 10)
            bench_size(root, name, size, count, not args.no_contention)
        bench_checkpoints(root, args.count)
        bench_turns(root, args.count)


if __name__ == "__main__":
    main()
