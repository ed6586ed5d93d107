"""Relay overhead: bridge + emulator versus a direct protocol client on the same emulator.

    uv run python benchmarks/relay.py [--concurrency 1 200 500] [--tokens 200] [--rounds 3]
                                      [--token-latency 0.02] [--phases latency throughput]

Two paths are compared, driven by the same load generator (this process, one event loop,
connections warmed at each level's concurrency before measuring):
  direct  - our transport + RunMachine speaking agent.v1 Run to the emulator (what the bridge
            itself does upstream, minus the HTTP side);
  relayed - OpenAI chat completions (SSE) through `cursor-bridge serve` to the same emulator.
The emulator and the bridge are child processes on 127.0.0.1 (all share the machine's cores).
Each answer is `/tokens N`: N words, one text delta (and one token delta) each.

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
  `--burst` starts all N first turns at once instead and records every turn (informational,
  no p99 target: it measures how fast a synchronized burst of N Run starts drains, i.e.
  start-path CPU cost x N).

Phase `throughput` - line rate. The emulator is unpaced (`--token-latency 0`), all N workers
  start together and stream as fast as the CPU allows; words/s is the total streamed words
  over wall time. TTFT is printed but is CPU queueing behind other streams' traffic, not a
  target. Target: relayed words/s >= 50% of direct at every level, 0 errors at 500.
  Caveat: the direct client decodes every message (protobuf) in the load generator while the
  relayed one only counts delta markers in the SSE bytes, so at line rate the load generator
  spends more per word on the direct path; with the load generator near saturation the ratio
  errs in the bridge's favour (it can exceed 100% at high concurrency).

Added latency is relayed minus direct at the same percentile; the ratio is relayed over
direct throughput. Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import aiohttp

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.headers import RUN_PATH, ClientIdentity, run_headers
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool

MODEL = "gpt-5.4"
LISTENING = r"listening on http://127\.0\.0\.1:(\d+)"


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
    context = agent.RequestContext()
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=context)
    request = agent.AgentRunRequest(
        action=agent.ConversationAction(
            user_message_action=agent.UserMessageAction(
                user_message=agent.UserMessage(text=prompt(tokens), message_id="m", mode=1),
                request_context=context,
            )
        ),
        requested_model=agent.RequestedModel(model_id=MODEL),
        conversation_id="bench",
    )
    started = time.perf_counter()
    first = True
    stream = await pool.open_stream(url + RUN_PATH, run_headers(None, ClientIdentity(), now_ms=0))
    try:
        await stream.send(machine.start(request))
        status, _ = await stream.response_headers()
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        while True:
            chunk = await stream.receive(idle_timeout=60)
            events = (
                machine.receive_eof(stream.trailers)
                if chunk is None
                else machine.receive_data(chunk)
            )
            owed = machine.data_to_send()
            if owed:
                await stream.send(owed)
            for event in events:
                if isinstance(event, ev.TextDelta):
                    if first:
                        if record:
                            sample.ttft.append(time.perf_counter() - started)
                        first = False
                    sample.words += 1
                elif isinstance(event, ev.RunFailed):
                    raise RuntimeError(str(event.error))
            if chunk is None or machine.state.value in ("closed", "failed"):
                return
    finally:
        await stream.cancel()


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
    async with client.post("/v1/chat/completions", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.read())[:200]!r}")
        # Minimal SSE reading (count content deltas in the raw bytes) so the load generator,
        # not the bridge, is never the bottleneck; nothing is JSON-decoded.
        async for raw in response.content.iter_any():
            if b'"error"' in raw:
                raise RuntimeError(raw.decode(errors="replace")[:300])
            words = raw.count(b'"delta":{"content":')
            if words:
                if first:
                    if record:
                        sample.ttft.append(time.perf_counter() - started)
                    first = False
                sample.words += words


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


def spawn(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        match = re.search(LISTENING, line)
        if match:
            return proc, match.group(1)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit(f"{args[0]} did not start")


@dataclass
class Stack:
    emulator_url: str
    bridge_url: str
    pids: dict[str, int]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def stack(token_latency: float, serve_args: list[str]) -> Iterator[Stack]:
    """An emulator with this pacing and a bridge on it, as child processes."""
    emulator, emulator_port = spawn(
        ["emulator", "--port", "0", "--token-latency", repr(token_latency)]
    )
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    procs = [emulator]
    try:
        bridge, bridge_port = spawn(
            [
                *("serve", "--port", "0", "--backend-url", emulator_url),
                *("--log-level", "warning", *serve_args),
            ]
        )
        procs.insert(0, bridge)
        pids = {"bridge": bridge.pid, "emulator": emulator.pid, "load generator": os.getpid()}
        yield Stack(emulator_url, f"http://127.0.0.1:{bridge_port}", pids)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()


HEADER = (
    f"{'streams':>7} | {'path':>7} | {'TTFT p50':>9} | {'TTFT p99':>9} | {'words/s':>9} | errors"
)


async def run_phase(phase: str, args: argparse.Namespace, stack: Stack) -> bool:
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

    paced = phase == "latency"
    latency = args.token_latency if paced else 0.0
    stagger = args.tokens * latency if paced and not args.burst else 0.0
    title = (
        f"latency phase: {1 / latency:.0f} words/s per stream, "
        f"{'burst start' if args.burst else 'staggered starts'}"
        if paced
        else "throughput phase: unpaced (line rate), all streams start together"
    )
    print(f"\n{title}, {args.tokens} words per answer\n{HEADER}")
    ok = True
    # Code paths, catalog cache and the bridge's upstream connection.
    await run_level(direct, 20, 2, args.tokens)
    await run_level(relayed, 20, 2, args.tokens)
    for level in args.concurrency:
        rounds = max(args.rounds, args.single_rounds) if level == 1 else args.rounds
        results = {}
        for name, turn in (("direct", direct), ("relayed", relayed)):
            # A keep-alive connection per concurrent stream (both sides), short turns.
            await run_level(turn, level, 1, 1)
            before = {who: cpu_seconds(pid) for who, pid in stack.pids.items()}
            results[name] = s = await run_level(turn, level, rounds, args.tokens, stagger)
            cpu = ", ".join(
                f"{who} {cpu_seconds(pid) - before[who]:.1f}" for who, pid in stack.pids.items()
            )
            error = f"  {s.first_error}" if s.errors else ""
            print(
                f"{level:>7} | {name:>7} | {s.pct(0.5):8.2f}ms | {s.pct(0.99):8.2f}ms | "
                f"{s.throughput:9.0f} | {s.errors}{error}"
                + (f"  (CPU s: {cpu}; wall {s.elapsed:.1f})" if args.cpu else "")
            )
        d, r = results["direct"], results["relayed"]
        added50, added99 = r.pct(0.5) - d.pct(0.5), r.pct(0.99) - d.pct(0.99)
        ratio = r.throughput / d.throughput if d.throughput else 0.0
        verdict = []
        if paced and level == 1 and not added50 <= 2.0:
            verdict.append("p50 > +2 ms")
        if paced and level == 200 and not args.burst and not added99 <= 10.0:
            verdict.append("p99 > +10 ms")
        if not paced and ratio < 0.5:
            verdict.append("throughput < 50%")
        if level >= 500 and (r.errors or d.errors):
            verdict.append("errors")
        ok = ok and not verdict
        print(
            f"{level:>7} | {'added':>7} | {added50:+8.2f}ms | {added99:+8.2f}ms | "
            f"{ratio:8.0%} | relayed/direct words/s"
            + (f"  MISSED: {', '.join(verdict)}" if verdict else "")
        )
    await client.close()
    await pool.aclose()
    return ok


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
        "--cpu", action="store_true", help="also print each process's CPU seconds per run"
    )
    args = parser.parse_args()
    if "latency" in args.phases and args.token_latency <= 0:
        parser.error("the latency phase needs --token-latency > 0")
    ok = True
    for phase in args.phases:
        latency = args.token_latency if phase == "latency" else 0.0
        with stack(latency, args.serve_arg) as running:
            ok = asyncio.run(run_phase(phase, args, running)) and ok
    print("\ntargets met" if ok else "\nTARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
