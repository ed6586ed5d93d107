"""Tool loops through the bridge: time per round against the emulator's own, Runs per loop,
memory per parked session.

    uv run python -m benchmarks.tool_loop [--loops 1 20] [--rounds 10] [--parked 500]
                                          [--workers N] [--profile DIR]

Starts `cursor-bridge emulator` and `cursor-bridge serve --backend-url <emulator>` as child
processes, then drives tool loops at each `--loops` level (that many loops at once, each
`--rounds` rounds of one call, whose result is 2,000 characters):
  direct   - the emulator's own time: a protocol client (our transport + RunMachine) answers
             each exec on the Run at once; a round is result sent -> next exec (or the
             final answer) received;
  held     - OpenAI chat completions through the bridge, each round answering the model's
             tool call and sending the whole history back, as coding agents do: every round
             continues the parked Run;
  fallback - (at the last level) the client edits its system prompt every round, so every
             round starts a fresh Run seeded with the full history.
It prints Runs opened per loop (from the emulator's counters), per-round latency p50/p99 and
the bridge's added time (held minus direct at the same percentile), then parks `--parked`
sessions at once and reports the bridge's resident memory per parked session.
Targets (issue 17): added p50 <= 10 ms at 1 loop, added p99 <= 30 ms at 20 loops, and one
Run per held loop. Against the real backend a fresh Run also pays the backend's bootstrap
(reported 3-6 s), which the emulator does not imitate: the Run count is what carries over.
Every figure is printed with the machine's load average (compare back to back on a shared
machine); `--profile DIR` writes the results to DIR/tool_loop.txt and a py-spy flame graph
of the bridge beside them. Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

import aiohttp
import httpx

from benchmarks.harness import (
    MODEL,
    Report,
    add_profile_option,
    add_scale_option,
    direct_run,
    load_average,
    process_tree,
    stack,
)
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.messages import agent, json_to_value_bytes
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool

TOOL = {
    "type": "function",
    "function": {
        "name": "read",
        "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
}
RESULT = "x" * 2000


def script(rounds: int) -> str:
    return "\n/then\n".join(f'/tool read {{"path": "f{i}.txt"}}' for i in range(rounds))


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
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "round 0"},
        {"role": "user", "content": script(rounds)},
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
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": RESULT})
        if edit_history:
            messages[0] = {"role": "system", "content": f"round {number + 1}"}


async def direct_loop(pool: BackendPool, url: str, rounds: int, timings: list[float]) -> None:
    """One loop on the raw protocol: each exec answered at once on the same Run."""
    schema = json_to_value_bytes(TOOL["function"]["parameters"])  # type: ignore[index]
    tool = agent.McpToolDefinition(
        name="read", tool_name="read", provider_identifier="bench", input_schema=schema
    )
    answered: float | None = None

    def on_events(machine: RunMachine, events: list[ev.Event]) -> None:
        nonlocal answered
        for event in events:
            if isinstance(event, ev.ExecRequested | ev.TurnEnded) and answered is not None:
                timings.append((time.perf_counter() - answered) * 1000)
                answered = None
            if isinstance(event, ev.ExecRequested) and event.kind == "mcp_args":
                result = agent.ExecClientMessage(id=event.exec_id)
                item = agent.McpToolResultContentItem(text=agent.McpTextContent(text=RESULT))
                result.mcp_result.success.content.append(item)
                machine.send_exec_result(result)
                answered = time.perf_counter()

    context = agent.RequestContext(tools=[tool])
    await direct_run(pool, url, script(rounds), context, on_events)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def rss_kib(pid: int) -> int:
    """Resident memory of *pid* and its descendants (the workers of `serve --workers`)."""
    total = 0
    for process in process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{process}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


ROW = "{:>8} | {:>5} | {:>6} | {:>9} | {:>9} | {:>9}"


async def measure_level(
    client: aiohttp.ClientSession,
    pool: BackendPool,
    emulator_url: str,
    loops: int,
    rounds: int,
    report: Report,
) -> tuple[list[float], list[float], float]:
    """(direct timings, held timings, Runs per held loop) at one level."""
    direct: list[float] = []
    await asyncio.gather(*(direct_loop(pool, emulator_url, rounds, direct) for _ in range(loops)))
    report(
        ROW.format(
            "direct", loops, rounds, "-", f"{pct(direct, 0.5):.1f}ms", f"{pct(direct, 0.99):.1f}ms"
        )
    )
    before = (await counters(emulator_url))["runs_opened"]
    held: list[float] = []
    await asyncio.gather(*(loop_once(client, rounds, False, held) for _ in range(loops)))
    runs = ((await counters(emulator_url))["runs_opened"] - before) / loops
    report(
        ROW.format(
            "held",
            loops,
            rounds,
            f"{runs:.1f}",
            f"{pct(held, 0.5):.1f}ms",
            f"{pct(held, 0.99):.1f}ms",
        )
    )
    added50 = pct(held, 0.5) - pct(direct, 0.5)
    added99 = pct(held, 0.99) - pct(direct, 0.99)
    report(ROW.format("added", loops, rounds, "", f"{added50:+.1f}ms", f"{added99:+.1f}ms"))
    return direct, held, runs


async def main_async(
    args: argparse.Namespace, emulator_url: str, bridge_url: str, pid: int, report: Report
) -> bool:
    client = aiohttp.ClientSession(
        bridge_url,
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=600),
    )
    pool = BackendPool()
    await loop_once(client, 2, False, [])  # warm-up: code paths, catalog, connections
    await direct_loop(pool, emulator_url, 2, [])
    report(load_average())
    report(ROW.format("mode", "loops", "rounds", "Runs/loop", "round p50", "round p99"))
    missed = []
    for loops in args.loops:
        direct, held, runs = await measure_level(
            client, pool, emulator_url, loops, args.rounds, report
        )
        if runs != 1:
            missed.append(f"held loops opened {runs:.1f} Runs each at {loops} loops")
        if loops == 1 and not pct(held, 0.5) - pct(direct, 0.5) <= 10.0:
            missed.append("added p50 > 10 ms at 1 loop")
        if loops == 20 and not pct(held, 0.99) - pct(direct, 0.99) <= 30.0:
            missed.append("added p99 > 30 ms at 20 loops")
        report(load_average())
    loops = args.loops[-1]
    before = (await counters(emulator_url))["runs_opened"]
    fallback: list[float] = []
    await asyncio.gather(*(loop_once(client, args.rounds, True, fallback) for _ in range(loops)))
    runs = ((await counters(emulator_url))["runs_opened"] - before) / loops
    report(
        ROW.format(
            "fallback",
            loops,
            args.rounds,
            f"{runs:.1f}",
            f"{pct(fallback, 0.5):.1f}ms",
            f"{pct(fallback, 0.99):.1f}ms",
        )
    )
    if args.parked:
        await park(client, pid, args.parked, report)
    report(load_average())
    await client.close()
    await pool.aclose()
    for line in missed:
        report(f"MISSED: {line}")
    return not missed


async def park(client: aiohttp.ClientSession, pid: int, count: int, report: Report) -> None:
    """Memory: park many sessions at once (first round of a loop, never answered)."""
    baseline = rss_kib(pid)
    first = '/tool read {"path": "parked.txt"}'
    await asyncio.gather(
        *(
            complete(client, [{"role": "user", "content": f"{first}\nsession {i}"}])
            for i in range(count)
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
    report(
        f"parked sessions: {parked:.0f}; bridge RSS {baseline / 1024:.1f} -> "
        f"{parked_rss / 1024:.1f} MiB; {per_session:.1f} KiB per parked session"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loops", type=int, nargs="+", default=[1, 20], help="loops at once")
    parser.add_argument("--rounds", type=int, default=10, help="tool rounds per loop")
    parser.add_argument("--parked", type=int, default=500, help="sessions parked at once (0: skip)")
    parser.add_argument(
        "--serve-arg", action="append", default=[], help="extra `cursor-bridge serve` argument"
    )
    add_profile_option(parser)
    add_scale_option(parser)
    args = parser.parse_args()
    name = "tool_loop" if args.workers <= 1 else f"tool_loop-workers{args.workers}"
    report = Report(name, args.profile)
    report(f"benchmarks.tool_loop {' '.join(sys.argv[1:])}".rstrip())
    profile = report.profile_path("bridge")
    with stack(0.0, args.serve_arg, profile, args.workers) as processes:
        if args.workers > 1:
            report(f"bridge: serve --workers {args.workers} (follow-ups may be forwarded)")
        ok = asyncio.run(
            main_async(
                args, processes.emulator_url, processes.bridge_url, processes.pids["bridge"], report
            )
        )
    if profile is not None:
        report(f"profile of the bridge: {profile}")
    report.finish(ok)


if __name__ == "__main__":
    main()
