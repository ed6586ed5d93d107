"""Tool loops through the bridge: Runs per loop, time per round, memory per parked session.

    uv run python -m benchmarks.tool_loop [--loops 20] [--rounds 10] [--parked 500]

Starts `cursor-bridge emulator` and `cursor-bridge serve --backend-url <emulator>` as child
processes, then drives OpenAI chat-completion tool loops (each round answers the model's tool
call and sends the whole history back, as coding agents do):
  held     - history unchanged between rounds: every round continues the parked Run;
  fallback - the client edits its system prompt every round: every round starts a fresh Run
             seeded with the full history (what a bridge without held Runs always does).
It prints Runs opened per loop (from the emulator's counters) and the per-round latency
(p50/p99) for both, then parks `--parked` sessions at once and reports the bridge's resident
memory per parked session. Against the real backend a fresh Run also pays the backend's
bootstrap (reported 3-6 s), which the emulator does not imitate: the Run count is the figure
that carries over. Exits non-zero when a held loop opens more than one Run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import aiohttp
import httpx

from benchmarks.relay import stack

MODEL = "gpt-5.4"
TOOL = {
    "type": "function",
    "function": {
        "name": "read",
        "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
}


async def counters(emulator_url: str) -> dict[str, Any]:
    # The emulator speaks HTTP/2 only (prior knowledge), like Cursor's Run host.
    async with httpx.AsyncClient(http1=False, http2=True) as client:
        response = await client.get(emulator_url + "/emulator/counters")
        result: dict[str, Any] = response.json()
        return result


async def complete(client: aiohttp.ClientSession, messages: list[dict[str, Any]]) -> Any:
    body = {"model": MODEL, "messages": messages, "tools": [TOOL]}
    async with client.post("/v1/chat/completions", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
        return (await response.json())["choices"][0]


async def loop_once(
    client: aiohttp.ClientSession, rounds: int, edit_history: bool, timings: list[float]
) -> None:
    script = "\n/then\n".join(f'/tool read {{"path": "f{i}.txt"}}' for i in range(rounds))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "round 0"},
        {"role": "user", "content": script},
    ]
    for number in range(rounds + 1):
        started = time.perf_counter()
        choice = await complete(client, messages)
        if number:
            timings.append((time.perf_counter() - started) * 1000)
        if number == rounds:
            assert choice["finish_reason"] == "stop", choice
            return
        message = choice["message"]
        messages.append({"role": "assistant", "content": None, "tool_calls": message["tool_calls"]})
        for call in message["tool_calls"]:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": "x" * 2000})
        if edit_history:
            messages[0] = {"role": "system", "content": f"round {number + 1}"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def main_async(
    args: argparse.Namespace, emulator_url: str, bridge_url: str, pid: int
) -> bool:
    client = aiohttp.ClientSession(
        bridge_url,
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=600),
    )
    ok = True
    await loop_once(client, 2, False, [])  # warm-up
    print(
        f"{'mode':>8} | {'loops':>5} | {'rounds':>6} | {'Runs/loop':>9} | "
        f"{'round p50':>9} | {'round p99':>9}"
    )
    for mode, edit in (("held", False), ("fallback", True)):
        before = (await counters(emulator_url))["runs_opened"]
        timings: list[float] = []
        await asyncio.gather(
            *(loop_once(client, args.rounds, edit, timings) for _ in range(args.loops))
        )
        runs = ((await counters(emulator_url))["runs_opened"] - before) / args.loops
        print(
            f"{mode:>8} | {args.loops:>5} | {args.rounds:>6} | {runs:9.1f} | "
            f"{pct(timings, 0.5):7.1f}ms | {pct(timings, 0.99):7.1f}ms"
        )
        if mode == "held" and runs != 1:
            ok = False
    # Memory: park many sessions at once (first round of a loop, never answered).
    baseline = rss_kib(pid)
    script = '/tool read {"path": "parked.txt"}'
    await asyncio.gather(
        *(
            complete(client, [{"role": "user", "content": f"{script}\nsession {i}"}])
            for i in range(args.parked)
        )
    )
    parked_rss = rss_kib(pid)
    async with client.get("/metrics") as response:
        metrics = await response.text()
    parked = next(
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("cursor_bridge_parked_sessions ")
    )
    per_session = (parked_rss - baseline) / max(parked, 1)
    print(
        f"parked sessions: {parked:.0f}; bridge RSS {baseline / 1024:.1f} -> "
        f"{parked_rss / 1024:.1f} MiB; {per_session:.1f} KiB per parked session"
    )
    await client.close()
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loops", type=int, default=20, help="concurrent tool loops")
    parser.add_argument("--rounds", type=int, default=10, help="tool rounds per loop")
    parser.add_argument("--parked", type=int, default=500, help="sessions parked at once")
    args = parser.parse_args()
    with stack(0.0, []) as processes:
        ok = asyncio.run(
            main_async(args, processes.emulator_url, processes.bridge_url, processes.pids["bridge"])
        )
    print("held loops used one Run each" if ok else "HELD LOOPS OPENED EXTRA RUNS")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
