"""Relay overhead: bridge + emulator versus a direct protocol client on the same emulator.

    uv run python benchmarks/relay.py [--concurrency 1 200 500] [--tokens 200] [--rounds 3]
                                      [--token-latency 0.02] [--phases latency throughput]
                                      [--burst] [--cpu] [--copied] [--workers N]
                                      [--profile DIR]

One command per figure (issue 17's targets; each also accepts --profile DIR):
    uv run python benchmarks/relay.py --burst --phases latency --concurrency 200 500
    uv run python benchmarks/relay.py --phases throughput --concurrency 200 --cpu
and, as users scale it, the same with `--workers 2` (`serve --workers 2 --redis URL`, a
redis-server started for it; the bridge's CPU is then that of all its processes).

Two paths are compared, driven by the same load generator (this process, one event loop,
connections warmed at each level's concurrency before measuring):
  direct  - our transport + RunMachine speaking agent.v1 Run to the emulator (what the bridge
            itself does upstream, minus the HTTP side);
  relayed - OpenAI chat completions (SSE) through `cursor-bridge serve` to the same emulator.
The emulator and the bridge are child processes on 127.0.0.1 (all share the machine's cores).
Each answer is `/tokens N`: N words, one text delta (and one token delta) each; every turn
is a new conversation (a fresh Run, seeded).

Phase `latency` - what a user sees: time to first token under load.
  The emulator paces every stream like a model typing (`--token-latency`, default 0.02 s
  between words = 50 tokens/s per stream; real models stream tens to a hundred or so).
  N closed-loop workers each run turns back to back; their first turns start spread evenly
  over one answer's duration, so from then on N streams are always in flight and new turns
  start at a steady N/answer-duration per second rather than all in the same instant. TTFT
  (request sent -> first content word received) is recorded for every turn after each
  worker's first (the ramp), i.e. only turns that started while N streams were streaming.
  With one stream every turn counts. Both paths get exactly the same schedule.
  Targets: <= 2 ms added p50 at 1 stream, <= 10 ms added p99 at 200, 0 errors at 500.
  `--burst` starts all N conversations at once instead and records every turn (the workers'
  later turns start together again): how fast a synchronized burst of N Run starts drains.
  Targets: 200 at once add <= 30 ms p50 and <= 100 ms p99; 500 add <= 250 ms p50, 0 errors.

Phase `throughput` - line rate. The emulator is unpaced (`--token-latency 0`), all N workers
  start together and stream as fast as the CPU allows; words/s is the total streamed words
  over wall time. TTFT is printed but is CPU queueing behind other streams' traffic, not a
  target. Targets: relayed words/s >= 90% of direct at 200 streams (>= 50% at other
  levels), the bridge's CPU <= 0.02 s per 1,000 relayed chunks at 200, 0 errors at 500.
  Caveat: the direct client decodes every message (protobuf) in the load generator while the
  relayed one only counts delta markers in the SSE bytes but makes an HTTP request (aiohttp)
  per turn. At 200 streams the two cost the load generator about the same (0.9 and 1.0 s of
  CPU per run, measured); on the direct path it has a core to itself, on the relayed path it
  shares the two cores with the bridge and the emulator. At higher concurrency, with the load
  generator near saturation, the ratio can err in the bridge's favour (even exceed 100%).

With `--copied` a third path runs beside them: the direct client through a TCP proxy that
only copies bytes (benchmarks/byte_proxy.py), the floor of what any hop costs; relayed
versus copied is then the bridge's own work, copied versus direct the extra process and hop.

With `--cpu` each run also prints every process's CPU seconds and the seconds its threads
were runnable but waited for a core (Linux schedstat). The emulator is the direct path's
bottleneck, busy its whole wall time; on the relayed path, its wall time beyond its CPU and
its waiting is time it sat idle, waiting for the bridge. Together they say how much of a
throughput gap is work added, and how much is three processes sharing two cores.

Added latency is relayed minus direct at the same percentile; the ratio is relayed over
direct throughput. Every phase prints the machine's load average: on a shared machine,
compare runs made back to back. `--profile DIR` writes the printed results to
DIR/relay[-burst].txt and a py-spy flame graph of the bridge per phase beside them.
Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool

try:
    from benchmarks.harness import (
        LISTENING,
        MODEL,
        Report,
        Stack,
        add_profile_option,
        add_scale_option,
        direct_run,
        load_average,
        stack,
    )
except ModuleNotFoundError:  # run as a script: python benchmarks/relay.py
    from harness import (  # type: ignore[no-redef,import-not-found]
        LISTENING,
        MODEL,
        Report,
        Stack,
        add_profile_option,
        add_scale_option,
        direct_run,
        load_average,
        stack,
    )


@dataclass
class Sample:
    ttft: list[float] = field(default_factory=list)
    words: int = 0
    errors: int = 0
    elapsed: float = 0.0
    first_error: str = ""

    def pct(self, q: float) -> float:
        if not self.ttft:
            return float("nan")
        data = sorted(self.ttft)
        return data[min(len(data) - 1, round(q * (len(data) - 1)))] * 1000

    @property
    def throughput(self) -> float:
        return self.words / self.elapsed if self.elapsed else 0.0


# One turn: (tokens, sample, record TTFT?) -> awaitable.
TurnFn = Callable[[int, Sample, bool], Awaitable[None]]


def prompt(tokens: int) -> str:
    return f"/tokens {tokens}"


async def direct_once(
    pool: BackendPool, url: str, tokens: int, sample: Sample, record: bool = True
) -> None:
    """One turn over the raw protocol, as the bridge's engine would do minus the HTTP side."""
    started = time.perf_counter()
    first = True

    def on_events(machine: RunMachine, events: list[ev.Event]) -> None:
        nonlocal first
        for event in events:
            if isinstance(event, ev.TextDelta) and first:
                if record:
                    sample.ttft.append(time.perf_counter() - started)
                first = False
            elif isinstance(event, ev.TurnEnded):
                sample.words += tokens

    await direct_run(pool, url, prompt(tokens), agent.RequestContext(), on_events)


async def relayed_once(
    client: aiohttp.ClientSession, tokens: int, sample: Sample, record: bool = True
) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt(tokens)}],
        "stream": True,
    }
    started = time.perf_counter()
    first = True
    done = False
    async with client.post("/v1/chat/completions", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.read())[:200]!r}")
        # Minimal SSE reading (find the first content delta in the raw bytes) so the load
        # generator, not the bridge, is never the bottleneck; nothing is JSON-decoded.
        async for raw in response.content.iter_any():
            if b'"error"' in raw:
                raise RuntimeError(raw.decode(errors="replace")[:300])
            if first and b'"delta":{"content":' in raw:
                if record:
                    sample.ttft.append(time.perf_counter() - started)
                first = False
            done = done or b"[DONE]" in raw
    if not done:
        raise RuntimeError("the stream ended without [DONE]")
    # A whole answer arrived (words are counted per answer: deltas that arrive together
    # may be merged into one chunk on either path).
    sample.words += tokens


async def run_level(
    turn: TurnFn, concurrency: int, rounds: int, tokens: int, stagger: float = 0.0
) -> Sample:
    """`concurrency` closed-loop workers, `rounds` turns each.

    With `stagger` > 0 worker i starts at i * stagger / concurrency and only turns after each
    worker's first are recorded (with one worker, all are).
    """
    sample = Sample()
    skip = 1 if stagger > 0 and concurrency > 1 else 0
    started = time.perf_counter()

    async def worker(index: int) -> None:
        if stagger > 0:
            await asyncio.sleep(index * stagger / concurrency)
        for number in range(rounds):
            try:
                await turn(tokens, sample, number >= skip)
            except Exception as exc:  # counted, never fatal
                sample.errors += 1
                sample.first_error = sample.first_error or repr(exc)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    sample.elapsed = time.perf_counter() - started
    return sample


HEADER = (
    f"{'streams':>7} | {'path':>7} | {'TTFT p50':>9} | {'TTFT p99':>9} | {'words/s':>9} | errors"
)


def verdicts(
    args: argparse.Namespace, paced: bool, level: int, d: Sample, r: Sample, per_k: float
) -> list[str]:
    """The targets this level misses (issues 3 and 17)."""
    added50, added99 = r.pct(0.5) - d.pct(0.5), r.pct(0.99) - d.pct(0.99)
    ratio = r.throughput / d.throughput if d.throughput else 0.0
    missed = []
    if paced and not args.burst:
        if level == 1 and not added50 <= 2.0:
            missed.append("p50 > +2 ms")
        if level == 200 and not added99 <= 10.0:
            missed.append("p99 > +10 ms")
    if paced and args.burst:
        if level == 200 and not (added50 <= 30.0 and added99 <= 100.0):
            missed.append("burst of 200: p50 > +30 ms or p99 > +100 ms")
        if level == 500 and not added50 <= 250.0:
            missed.append("burst of 500: p50 > +250 ms")
    if not paced:
        if ratio < (0.9 if level == 200 else 0.5):
            missed.append(f"throughput < {90 if level == 200 else 50}%")
        if level == 200 and not per_k <= 0.02:
            missed.append("bridge CPU > 0.02 s per 1,000 chunks")
    if level >= 500 and (r.errors or d.errors):
        missed.append("errors")
    return missed


async def run_phase(
    phase: str, args: argparse.Namespace, stack: Stack, report: Report, copy_url: str | None
) -> bool:
    pool = BackendPool()
    client = aiohttp.ClientSession(
        stack.bridge_url,
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=600),
    )

    async def direct(tokens: int, sample: Sample, record: bool) -> None:
        await direct_once(pool, stack.emulator_url, tokens, sample, record)

    async def relayed(tokens: int, sample: Sample, record: bool) -> None:
        await relayed_once(client, tokens, sample, record)

    async def copied(tokens: int, sample: Sample, record: bool) -> None:
        assert copy_url is not None
        await direct_once(pool, copy_url, tokens, sample, record)

    paths: list[tuple[str, TurnFn]] = [("direct", direct), ("relayed", relayed)]
    if copy_url is not None:
        paths.append(("copied", copied))

    paced = phase == "latency"
    latency = args.token_latency if paced else 0.0
    stagger = args.tokens * latency if paced and not args.burst else 0.0
    title = (
        f"latency phase: {1 / latency:.0f} words/s per stream, "
        f"{'burst start' if args.burst else 'staggered starts'}"
        if paced
        else "throughput phase: unpaced (line rate), all streams start together"
    )
    processes = (
        f"bridge: serve --workers {stack.workers}" if stack.workers > 1 else "bridge: 1 process"
    )
    report(f"\n{title}, {args.tokens} words per answer, {processes}; {load_average()}\n{HEADER}")
    ok = True
    # Code paths, catalog cache and the bridge's upstream connection.
    for _, turn in paths:
        await run_level(turn, 20, 2, args.tokens)
    for level in args.concurrency:
        rounds = max(args.rounds, args.single_rounds) if level == 1 else args.rounds
        results = {}
        bridge_cpu = 0.0
        for name, turn in paths:
            # A keep-alive connection per concurrent stream (both sides), short turns.
            await run_level(turn, level, 1, 1)
            before, waited_before = stack.cpu(), stack.waits()
            results[name] = s = await run_level(turn, level, rounds, args.tokens, stagger)
            used = {who: seconds - before[who] for who, seconds in stack.cpu().items()}
            waited = {who: seconds - waited_before[who] for who, seconds in stack.waits().items()}
            if name == "relayed":
                bridge_cpu = used["bridge"]
            cpu = ", ".join(f"{who} {seconds:.1f}" for who, seconds in used.items())
            cpu += "; waiting for a core: " + ", ".join(
                f"{who} {seconds:.2f}"
                for who, seconds in waited.items()
                if name == "relayed" or who != "bridge"
            )
            error = f"  {s.first_error}" if s.errors else ""
            report(
                f"{level:>7} | {name:>7} | {s.pct(0.5):8.2f}ms | {s.pct(0.99):8.2f}ms | "
                f"{s.throughput:9.0f} | {s.errors}{error}"
                + (f"  (CPU s: {cpu}; wall {s.elapsed:.1f})" if args.cpu else "")
            )
        d, r = results["direct"], results["relayed"]
        added50, added99 = r.pct(0.5) - d.pct(0.5), r.pct(0.99) - d.pct(0.99)
        ratio = r.throughput / d.throughput if d.throughput else 0.0
        # Each relayed word is one upstream text chunk (plus its token delta) and one SSE chunk.
        per_k = bridge_cpu / (r.words / 1000) if r.words else float("nan")
        missed = verdicts(args, paced, level, d, r, per_k)
        ok = ok and not missed
        report(
            f"{level:>7} | {'added':>7} | {added50:+8.2f}ms | {added99:+8.2f}ms | "
            f"{ratio:8.0%} | relayed/direct words/s; bridge CPU {per_k:.4f} s per 1,000 chunks"
            + (f"  MISSED: {', '.join(missed)}" if missed else "")
        )
        if "copied" in results:
            c = results["copied"]
            report(
                f"{level:>7} | {'hop':>7} | {c.pct(0.5) - d.pct(0.5):+8.2f}ms | "
                f"{c.pct(0.99) - d.pct(0.99):+8.2f}ms | "
                f"{c.throughput / d.throughput if d.throughput else 0.0:8.0%} | "
                "copied/direct words/s: a hop that only copies bytes (no target)"
            )
    report(load_average())
    await client.close()
    await pool.aclose()
    return ok


@contextlib.contextmanager
def byte_proxy(running: Stack, wanted: bool) -> Iterator[str | None]:
    """With *wanted*, benchmarks/byte_proxy.py in front of the emulator, as a child process
    whose CPU `--cpu` reports too; its URL, else None."""
    if not wanted:
        yield None
        return
    target = running.emulator_url.rsplit(":", 1)[1]
    script = Path(__file__).with_name("byte_proxy.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), target], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        match = re.search(LISTENING, proc.stdout.readline())
        if match is None:
            raise SystemExit("the byte-copying proxy did not start")
        running.pids["byte proxy"] = proc.pid
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        running.pids.pop("byte proxy", None)
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 200, 500])
    parser.add_argument("--tokens", type=int, default=200, help="words per answer")
    parser.add_argument("--rounds", type=int, default=3, help="turns per stream")
    parser.add_argument(
        "--single-rounds", type=int, default=10, help="turns at concurrency 1 (more samples)"
    )
    parser.add_argument(
        "--token-latency",
        type=float,
        default=0.02,
        help="latency phase: emulator seconds between words (0.02 = 50 words/s per stream)",
    )
    parser.add_argument(
        "--phases", nargs="+", choices=["latency", "throughput"], default=["latency", "throughput"]
    )
    parser.add_argument(
        "--burst", action="store_true", help="latency phase: start all streams at once"
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        help="extra argument for `cursor-bridge serve` (repeatable)",
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="also print each process's CPU seconds per run, and the seconds its threads "
        "waited for a core (runnable, not running)",
    )
    parser.add_argument(
        "--copied",
        action="store_true",
        help="also run the direct client through a proxy that only copies bytes "
        "(the floor of what a hop costs)",
    )
    add_profile_option(parser)
    add_scale_option(parser)
    args = parser.parse_args()
    if "latency" in args.phases and args.token_latency <= 0:
        parser.error("the latency phase needs --token-latency > 0")
    name = "relay-burst" if args.burst else "relay"
    if args.workers > 1:
        name += f"-workers{args.workers}"
    report = Report(name, args.profile)
    report(f"benchmarks/relay.py {' '.join(sys.argv[1:])}".rstrip())
    ok = True
    for phase in args.phases:
        latency = args.token_latency if phase == "latency" else 0.0
        profile = report.profile_path(phase)
        with (
            stack(latency, args.serve_arg, profile, args.workers) as running,
            byte_proxy(running, args.copied) as copy_url,
        ):
            ok = asyncio.run(run_phase(phase, args, running, report, copy_url)) and ok
        if profile is not None:
            report(f"profile of the bridge ({phase}): {profile}")
    report()
    report.finish(ok)


if __name__ == "__main__":
    main()
