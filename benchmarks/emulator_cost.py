"""The emulator's own CPU: per Run start, per 1,000 paced words, per 1,000 unpaced words.

    uv run python -m benchmarks.emulator_cost [--streams 200] [--words 100] [--runs 2000]
                                              [--token-latency 0.02] [--repeat 1]
                                              [--profile DIR]

Every benchmark runs the bridge against the emulator on the same cores, so what the emulator
spends is taken from what is measured. This drives the emulator alone with the direct
protocol client (our transport + RunMachine, as `relay.py`'s direct path) and reads the
emulator's CPU time from /proc (robust on a shared machine; the load average is printed):

  run start - `--runs` Runs of `/tokens 1`, 50 at a time, unpaced: CPU per Run (a Run's
              whole life: request, checks, model reply of one word, blob stores, checkpoint);
  paced     - `--streams` Runs started at once, `/tokens W` each, paced at
              `--token-latency` (the burst benchmark's load): CPU per 1,000 paced words,
              after the Run starts' share (from the first phase) is taken off;
  unpaced   - the same Runs unpaced (line rate): CPU per 1,000 words, likewise.

`--profile DIR` runs the emulator under py-spy (raw collapsed stacks, `DIR/emulator-*.txt`,
summarise with any flame-graph tool). Informational, no target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool

from .harness import Child, _stop, cpu_seconds, direct_run, load_average, spawn


@contextmanager
def emulator(token_latency: float, profile: Path | None) -> Iterator[Child]:
    home = Path(tempfile.mkdtemp(prefix="cursor-bridge-emucost-"))
    if profile is not None:
        os.environ.setdefault("BENCH_PROFILE_FORMAT", "raw")
        profile.parent.mkdir(parents=True, exist_ok=True)
    args = ["emulator", "--port", "0", "--token-latency", repr(token_latency)]
    child = spawn(args, home, profile)
    try:
        yield child
    finally:
        _stop(child)
        shutil.rmtree(home, ignore_errors=True)


async def _runs(pool: BackendPool, url: str, count: int, at_once: int, words: int) -> int:
    """*count* Runs of `/tokens words`, *at_once* in flight; returns the words streamed (those
    of the turns that ended: the client may see words that arrived together as one delta)."""
    received = 0
    queue = iter(range(count))

    def on_events(machine: RunMachine, events: list[ev.Event]) -> None:
        nonlocal received
        received += words * sum(1 for event in events if isinstance(event, ev.TurnEnded))

    async def worker() -> None:
        for _ in queue:
            await direct_run(pool, url, f"/tokens {words}", agent.RequestContext(), on_events)

    await asyncio.gather(*(worker() for _ in range(at_once)))
    return received


async def _measure(child: Child, count: int, at_once: int, words: int) -> tuple[float, int, float]:
    """(emulator CPU seconds, words received, wall seconds) for one batch of Runs."""
    url = f"http://127.0.0.1:{child.port}"
    pool = BackendPool()
    try:
        await _runs(pool, url, at_once, at_once, 1)  # connections and code paths warm
        before, started = cpu_seconds(child.pid), time.perf_counter()
        received = await _runs(pool, url, count, at_once, words)
        wall = time.perf_counter() - started
        return cpu_seconds(child.pid) - before, received, wall
    finally:
        await pool.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=200, help="Runs at once (paced/unpaced)")
    parser.add_argument("--words", type=int, default=100, help="words per answer")
    parser.add_argument("--runs", type=int, default=2000, help="Runs for the run-start figure")
    parser.add_argument("--token-latency", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=1, help="measure each phase N times")
    parser.add_argument("--profile", type=Path, metavar="DIR")
    args = parser.parse_args()
    print(load_average())
    for _ in range(args.repeat):
        profile = args.profile
        with emulator(0.0, profile and profile / "emulator-unpaced.txt") as child:
            cpu, _, wall = asyncio.run(_measure(child, args.runs, 50, 1))
            per_run = cpu / args.runs
            print(
                f"run start: {per_run * 1000:.3f} ms CPU per Run ({args.runs} Runs, wall {wall:.1f} s)"
            )
            cpu, words, wall = asyncio.run(_measure(child, args.streams, args.streams, args.words))
            net = cpu - per_run * args.streams
            print(
                f"unpaced:   {net / (words / 1000):.4f} s CPU per 1,000 words "
                f"({args.streams} streams x {args.words} words, {cpu:.2f} s CPU, wall {wall:.1f} s)"
            )
        with emulator(args.token_latency, profile and profile / "emulator-paced.txt") as child:
            cpu, words, wall = asyncio.run(_measure(child, args.streams, args.streams, args.words))
            net = cpu - per_run * args.streams
            print(
                f"paced:     {net / (words / 1000):.4f} s CPU per 1,000 paced words "
                f"({args.streams} streams x {args.words} words at {args.token_latency:g} s, "
                f"{cpu:.2f} s CPU, wall {wall:.1f} s)"
            )
    print(load_average())


if __name__ == "__main__":
    main()
