"""Two bridge processes and Redis: many concurrent streams, and tool loops spread over both.

    uv run python -m benchmarks.scale [--streams 1000] [--tokens 50] [--rounds 2]
                                      [--token-latency 0.02] [--loops 40] [--loop-rounds 4]

Starts `redis-server` (Debian's package), `cursor-bridge emulator` (paced like a model typing,
`--token-latency` s between words) and `cursor-bridge serve --workers 2 --redis URL` on it,
all on 127.0.0.1 as child processes.

Phase `streams`: `--streams` closed-loop workers each run `--rounds` streamed turns of
`--tokens` words, first turns spread over one answer's duration so that all of them stream
at once from then on. The same schedule runs twice in this process: `direct` (our protocol
client straight to the emulator, no bridge) and `relayed` (OpenAI SSE through the two bridge
processes; the kernel spreads the connections over them). Reported: TTFT p50/p99 of turns
started while every stream was in flight, the relayed minus direct difference (added
TTFT), and errors. Target: 0 errors on both paths.

Phase `tool-loops`: `--loops` concurrent tool loops of `--loop-rounds` rounds; every request
goes on a new connection, so follow-ups land on either process. One that lands on the
process holding its Run continues it; one that lands on the other is forwarded to the
owner (server/forwarding.py) and continues there too; only a follow-up whose owner cannot
be reached would start a fresh Run from the history. Counted from the emulator's Runs:
fresh follow-ups = Runs opened - loops; continued = the rest. Target: every loop ends with
the right answer.

Load averages (1/5/15 min) are printed before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import spawn
from benchmarks.relay import Sample, direct_once, relayed_once, run_level
from benchmarks.tool_loop import TOOL, counters
from cursor_bridge.transport import BackendPool
from tests.support.redis_server import REDIS_SERVER, redis_server


def loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


@contextlib.contextmanager
def child(args: list[str]) -> Iterator[str]:
    """A `cursor-bridge` child process in its own fresh CURSOR_BRIDGE_HOME; yields its port.
    The harness drains its output (a full pipe would stall it) and keeps the tail for errors."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as home:
        spawned = spawn(args, Path(home))
        proc = spawned.proc
        try:
            yield spawned.port
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.returncode not in (0, -signal.SIGINT):
                print(
                    f"{args[0]} exited {proc.returncode}: {''.join(spawned.tail)}", file=sys.stderr
                )


async def streams_phase(args: argparse.Namespace, emulator_url: str, bridge_url: str) -> bool:
    pool = BackendPool()
    client = aiohttp.ClientSession(
        bridge_url,
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=600),
    )

    async def direct(tokens: int, sample: Sample, record: bool) -> None:
        await direct_once(pool, emulator_url, tokens, sample, record)

    async def relayed(tokens: int, sample: Sample, record: bool) -> None:
        await relayed_once(client, tokens, sample, record)

    stagger = args.tokens * args.token_latency
    await run_level(direct, 20, 1, 2)
    await run_level(relayed, 20, 1, 2)
    results = {}
    print(f"\n{args.streams} concurrent streams, {args.tokens} words each, {args.rounds} rounds")
    print(f"{'path':>8} | {'TTFT p50':>9} | {'TTFT p99':>9} | {'turns':>6} | errors | wall")
    for name, turn in (("direct", direct), ("relayed", relayed)):
        await run_level(turn, args.streams, 1, 1)  # one connection per stream, warmed
        s = await run_level(turn, args.streams, args.rounds, args.tokens, stagger)
        results[name] = s
        error = f"  {s.first_error}" if s.errors else ""
        print(
            f"{name:>8} | {s.pct(0.5):7.1f}ms | {s.pct(0.99):7.1f}ms | {len(s.ttft):>6} | "
            f"{s.errors:>6} | {s.elapsed:.1f} s{error}"
        )
    d, r = results["direct"], results["relayed"]
    print(f"{'added':>8} | {r.pct(0.5) - d.pct(0.5):+7.1f}ms | {r.pct(0.99) - d.pct(0.99):+7.1f}ms")
    await client.close()
    await pool.aclose()
    return not d.errors and not r.errors


async def tool_loop(url: str, rounds: int, loop: int) -> bool:
    """One loop, a new connection per request (follow-ups land on either process)."""
    script = "\n/then\n".join(f'/tool read {{"path": "f{i}.txt"}}' for i in range(rounds))
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"{script}\nloop {loop}"}]
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(url, connector=connector) as client:
        for number in range(rounds + 1):
            body = {"model": "gpt-5.4", "messages": messages, "tools": [TOOL]}
            async with client.post("/v1/chat/completions", json=body) as response:
                if response.status != 200:
                    return False
                choice = (await response.json())["choices"][0]
            if number == rounds:
                expected = [f"- read: contents of f{i}.txt" for i in range(rounds)]
                text = choice["message"]["content"] or ""
                return choice["finish_reason"] == "stop" and all(e in text for e in expected)
            calls = choice["message"]["tool_calls"]
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            for call in calls:
                path = call["function"]["arguments"].split('"')[-2]
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": f"contents of {path}"}
                )
    return False


async def loops_phase(args: argparse.Namespace, emulator_url: str, bridge_url: str) -> bool:
    before = (await counters(emulator_url))["runs_opened"]
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(tool_loop(bridge_url, args.loop_rounds, i) for i in range(args.loops))
    )
    wall = time.perf_counter() - started
    runs = (await counters(emulator_url))["runs_opened"] - before
    follow_ups = args.loops * args.loop_rounds
    fresh = runs - args.loops
    print(
        f"\ntool loops: {args.loops} x {args.loop_rounds} rounds over 2 processes, {wall:.1f} s\n"
        f"follow-ups {follow_ups}: continued in the parked Run {follow_ups - fresh}, "
        f"fresh Run elsewhere {fresh}; loops with the right answer "
        f"{sum(outcomes)}/{args.loops}"
    )
    return all(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=50, help="words per answer")
    parser.add_argument("--rounds", type=int, default=2, help="turns per stream")
    parser.add_argument("--token-latency", type=float, default=0.02)
    parser.add_argument("--loops", type=int, default=40)
    parser.add_argument("--loop-rounds", type=int, default=4)
    args = parser.parse_args()
    if REDIS_SERVER is None:
        raise SystemExit("redis-server is not installed (Debian package redis-server)")
    print(f"load average before: {loadavg()} ({os.cpu_count()} cores)")
    with (
        redis_server() as redis_url,
        child(
            ["emulator", "--port", "0", "--token-latency", repr(args.token_latency)]
        ) as emulator_port,
    ):
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        serve = ["serve", "--port", "0", "--backend-url", emulator_url, "--log-level", "warning"]
        with child([*serve, "--workers", "2", "--redis", redis_url]) as bridge_port:
            bridge_url = f"http://127.0.0.1:{bridge_port}"
            ok = asyncio.run(streams_phase(args, emulator_url, bridge_url))
            ok = asyncio.run(loops_phase(args, emulator_url, bridge_url)) and ok
    print(f"load average after: {loadavg()}")
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
