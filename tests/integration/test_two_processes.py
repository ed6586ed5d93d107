"""Two bridge "processes" (two backends, each with its own Redis connection and sessions)
in front of one emulator: a conversation's next turn resumes from the checkpoint the other
process stored; a tool follow-up that lands on the process that did not park the Run is
recognised by the owner in its call ids and takes the fresh-Run path from the history, with
the right answer; landing on the owner continues the parked Run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.server.app import create_app
from cursor_bridge.server.redis_responses import RedisResponseStore
from cursor_bridge.store.redis import RedisStateStore
from tests.support.redis_server import redis_server

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@dataclass
class Process:
    backend: CursorBackend
    client: httpx.AsyncClient


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
async def processes(redis_url: str) -> AsyncIterator[dict[str, Process]]:
    emulator = EmulatorServer("127.0.0.1", 0, EmulatorOptions(heartbeat_interval=0.2))
    await emulator.start()
    made: dict[str, Process] = {}
    for name in ("a", "b"):
        state = RedisStateStore(redis_url, prefix="two-processes:")
        backend = CursorBackend(
            BackendConfig(
                api_url=emulator.url,
                agent_url=emulator.url,
                heartbeat_interval=0.2,
                state=state,
                instance_id=name,
            )
        )
        responses = RedisResponseStore(redis_url, prefix="two-processes:")
        app = create_app(backend, mode="emulator", response_store=responses)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bridge", timeout=30
        )
        made[name] = Process(backend, client)
    try:
        yield made
    finally:
        for process in made.values():
            await process.client.aclose()
            await process.backend.aclose()
        await emulator.stop()


async def ask(process: Process, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {"model": "claude-4.6-sonnet", "messages": messages, **extra}
    reply = await process.client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["choices"][0]["message"])


async def test_next_turn_resumes_from_the_other_process_checkpoint(
    processes: dict[str, Process],
) -> None:
    a, b = processes["a"], processes["b"]
    history: list[dict[str, Any]] = [{"role": "user", "content": "/reply first answer"}]
    first = await ask(a, history)
    assert first["content"] == "first answer"
    a.backend.state.flush(5)
    history += [first, {"role": "user", "content": "/recall"}]
    second = await ask(b, history)
    assert b.backend.checkpoint_resumes["resumed"] == 1
    assert a.backend.checkpoint_resumes["resumed"] == 0
    # The emulator rebuilt the history from the blobs process a stored in Redis.
    assert "user=/reply first answer" in second["content"]
    assert "assistant=first answer" in second["content"]


async def test_tool_follow_up_elsewhere_takes_a_fresh_run(
    processes: dict[str, Process],
) -> None:
    a, b = processes["a"], processes["b"]
    history: list[dict[str, Any]] = [
        {"role": "user", "content": '/tool get_weather {"city": "Paris"}'}
    ]
    called = await ask(a, history, tools=TOOLS)
    (call,) = called["tool_calls"]
    assert call["id"].startswith("call_a_"), "the call id names the owning process"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert len(a.backend.sessions) == 1
    history += [called, {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]
    runs_before = b.backend.runs_opened
    answer = await ask(b, history, tools=TOOLS)
    assert answer["content"] == "Tool results:\n- get_weather: sunny"
    assert b.backend.sessions.outcomes["other_process"] == 1
    assert b.backend.tool_rounds["fallback"] == 1
    assert b.backend.runs_opened == runs_before + 1

    # B stored the checkpoint of that turn in Redis: the next user turn resumes from it on
    # A, and the backend's history has the whole tool round.
    b.backend.state.flush(5)
    history += [answer, {"role": "user", "content": "/recall"}]
    resumed = a.backend.checkpoint_resumes["resumed"]
    recalled = await ask(a, history, tools=TOOLS)
    assert a.backend.checkpoint_resumes["resumed"] == resumed + 1
    content = recalled["content"]
    assert 'user=/tool get_weather {"city": "Paris"}; tool_call=' in content
    assert "-> sunny" in content and "assistant=Tool results:" in content

    # The same loop landing on its owner continues the parked Run instead.
    again: list[dict[str, Any]] = [
        {"role": "user", "content": '/tool get_weather {"city": "Oslo"}'}
    ]
    called = await ask(a, again, tools=TOOLS)
    (call,) = called["tool_calls"]
    again += [called, {"role": "tool", "tool_call_id": call["id"], "content": "snow"}]
    opened = a.backend.runs_opened
    answer = await ask(a, again, tools=TOOLS)
    assert answer["content"] == "Tool results:\n- get_weather: snow"
    assert a.backend.tool_rounds["continued"] == 1
    assert a.backend.runs_opened == opened


async def test_previous_response_id_across_processes(processes: dict[str, Process]) -> None:
    a, b = processes["a"], processes["b"]
    first = await a.client.post(
        "/v1/responses", json={"model": "gpt-5.4", "input": "/reply remembered"}
    )
    assert first.status_code == 200, first.text
    follow = await b.client.post(
        "/v1/responses",
        json={"model": "gpt-5.4", "input": "/recall", "previous_response_id": first.json()["id"]},
    )
    assert follow.status_code == 200, follow.text
    text = follow.json()["output"][-1]["content"][0]["text"]
    assert "assistant=remembered" in text
    fetched = await b.client.get(f"/v1/responses/{first.json()['id']}")
    assert fetched.status_code == 200 and fetched.json()["id"] == first.json()["id"]
