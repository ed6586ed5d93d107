"""`serve --workers N` for real: two processes on one port sharing a Redis, the built-in
emulator in the supervisor; refused without a shared store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.test_accounts_flow import read_until
from tests.support.polling import wait_for
from tests.support.redis_server import redis_server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CURSOR_BRIDGE_REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_workers_need_a_shared_store() -> None:
    proc = start("--workers", "2", "--emulator", "--port", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "--workers 2 needs state shared between the processes: pass --redis URL" in err


def test_two_workers_share_the_port_and_the_state(redis_url: str) -> None:
    proc = start("--workers", "2", "--emulator", "--port", "0", "--redis", redis_url)
    try:
        match, _ = read_until(
            proc,
            r"listening on (http://127\.0\.0\.1:\d+)/v1 \(2 workers.*"
            r"built-in emulator at (http://127\.0\.0\.1:\d+)",
        )
        base, emulator_url = match.group(1), match.group(2)
        # A new connection per request: the kernel spreads them over both workers.
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, limits=fresh, timeout=30) as client:
            seen = {client.get("/health").json()["instance"] for _ in range(40)}
            assert seen == {"w0", "w1"}
            history = [{"role": "user", "content": "/reply one"}]
            for turn in range(4):
                reply = client.post(
                    "/v1/chat/completions", json={"model": "gpt-5.4", "messages": history}
                )
                assert reply.status_code == 200, reply.text
                history += [
                    reply.json()["choices"][0]["message"],
                    {"role": "user", "content": f"/reply turn {turn}"},
                ]
            first = client.post("/v1/responses", json={"model": "gpt-5.4", "input": "/reply hi"})
            assert first.status_code == 200
            for _ in range(6):  # the stored response is found whichever worker answers
                again = client.get(f"/v1/responses/{first.json()['id']}")
                assert again.status_code == 200

            # Tool loops whose every request takes a new connection: each follow-up reaches
            # the worker holding its Run (forwarded when it lands on the other), so every
            # loop of three rounds opens a single Run.
            before = emulator_runs(emulator_url)
            for loop in range(4):
                tool_loop(client, loop)
            assert emulator_runs(emulator_url) - before == 4

            # A worker that dies is restarted; both answer again.
            workers = children(proc.pid)
            assert len(workers) == 2
            os.kill(workers[0], signal.SIGKILL)

            def both_back() -> bool:
                if len(set(children(proc.pid)) - {workers[0]}) < 2:
                    return False
                seen = set()
                for _ in range(20):
                    with contextlib.suppress(httpx.HTTPError):
                        seen.add(client.get("/health").json()["instance"])
                return seen == {"w0", "w1"}

            wait_for(both_back, timeout=90)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "exited with status -9; restarting it" in err


TOOL = {
    "type": "function",
    "function": {"name": "read", "parameters": {"type": "object"}},
}


def tool_loop(client: httpx.Client, loop: int) -> None:
    script = "\n/then\n".join(f'/tool read {{"path": "f{i}"}}' for i in range(3))
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"{script}\nloop {loop}"}]
    for _ in range(3):
        body = {"model": "gpt-5.4", "messages": messages, "tools": [TOOL]}
        choice = client.post("/v1/chat/completions", json=body).json()["choices"][0]
        (call,) = choice["message"]["tool_calls"]
        assert call["id"].startswith(("call_w0_", "call_w1_"))
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": f"done {call['id']}"},
        ]
    body = {"model": "gpt-5.4", "messages": messages, "tools": [TOOL]}
    final = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    assert final["finish_reason"] == "stop"
    assert final["message"]["content"].count("- read: done call_") == 3


def emulator_runs(url: str) -> int:
    with httpx.Client(http1=False, http2=True) as emulator:
        return int(emulator.get(url + "/emulator/counters").json()["runs_opened"])


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]
