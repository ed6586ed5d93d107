"""/health latency while the bridge serves a hostile request.

    uv run python -m benchmarks.health_latency [--messages 200000] [--content-bytes 20]

Starts `cursor-bridge emulator` and `cursor-bridge serve --backend-url <emulator>` as child
processes (in a temporary CURSOR_BRIDGE_HOME), sends one chat completion carrying
`--messages` messages and, from the moment the upload starts until the answer arrives,
asks GET /health every 20 ms. Prints the big request's status and duration and the /health
latencies (p50, p99, max). A bridge that does the big request's CPU work on its event
loop answers /health only when that work is done.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time

import httpx

from benchmarks.relay import stack


async def measure(bridge_url: str, messages: int, content_bytes: int) -> None:
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i:08} " + "x" * content_bytes}
        for i in range(messages - 1)
    ]
    history.append({"role": "user", "content": "/reply ok"})
    body = json.dumps({"model": "gpt-5.4", "messages": history}).encode()
    latencies: list[float] = []
    done = asyncio.Event()

    async def poll(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            started = time.perf_counter()
            await client.get(bridge_url + "/health")
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)

    limits = httpx.Limits(max_connections=4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        await client.get(bridge_url + "/health")
        poller = asyncio.create_task(poll(client))
        started = time.perf_counter()
        response = await client.post(
            bridge_url + "/v1/chat/completions",
            content=body,
            headers={"content-type": "application/json"},
        )
        elapsed = time.perf_counter() - started
        done.set()
        await poller
    ms = sorted(x * 1000 for x in latencies)
    print(f"request: {messages} messages, {len(body) / 2**20:.1f} MiB")
    print(f"answer: HTTP {response.status_code} in {elapsed:.2f} s: {response.text[:120]}")
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"/health during it: {len(ms)} probes, p50 {statistics.median(ms):.1f} ms, "
        f"p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--content-bytes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["CURSOR_BRIDGE_HOME"] = home
        with stack(0.0, []) as running:
            asyncio.run(measure(running.bridge_url, args.messages, args.content_bytes))


if __name__ == "__main__":
    main()
