"""Long conversations against an emulator with a 600-token window: occupancy from the
checkpoint, Cursor's own summarisation before the turn that would fill the window (then a
rebased conversation), and `context_length_exceeded` in each dialect when it cannot fit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.engine import compaction
from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.engine.fingerprint import chain
from cursor_bridge.engine.request import ChatMessage
from cursor_bridge.server.app import create_app

WINDOW = 600
WORDS = " ".join(["lorem"] * 60)


@pytest.fixture
async def bridge() -> AsyncIterator[tuple[httpx.AsyncClient, CursorBackend, EmulatorServer]]:
    emulator = EmulatorServer("127.0.0.1", 0, EmulatorOptions(context_window=WINDOW))
    await emulator.start()
    backend = CursorBackend(BackendConfig(api_url=emulator.url, agent_url=emulator.url))
    transport = httpx.ASGITransport(app=create_app(backend))
    async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=30) as client:
        yield client, backend, emulator
    await backend.aclose()
    await emulator.stop()


def stored_occupancy(backend: CursorBackend, history: list[dict[str, Any]]) -> compaction.Occupancy:
    messages = tuple(ChatMessage(m["role"], m["content"]) for m in history)
    stored = backend.state.load_checkpoint("fp:" + chain(messages)[-1])
    assert stored is not None
    return compaction.occupancy(stored.checkpoint)


async def test_summarised_near_the_window_then_carries_on(
    bridge: tuple[httpx.AsyncClient, CursorBackend, EmulatorServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, backend, _ = bridge
    caplog.set_level(logging.INFO)
    history: list[dict[str, Any]] = []
    occupancies = []
    for turn in range(3):
        history.append({"role": "user", "content": f"/reply {WORDS} {turn}"})
        reply = await client.post(
            "/v1/chat/completions", json={"model": "gpt-5.4", "messages": history}
        )
        assert reply.status_code == 200, reply.text
        history.append({"role": "assistant", "content": f"{WORDS} {turn}"})
        occupancies.append(stored_occupancy(backend, history))
    assert [o.window for o in occupancies] == [WINDOW] * 3
    assert occupancies[0].used < occupancies[1].used < occupancies[2].used
    assert backend.compactions["summarized"] == 0
    assert occupancies[2].used + 90 >= 0.9 * WINDOW, "the next turn would fill the window"

    history.append({"role": "user", "content": "/reply after the summary"})
    reply = await client.post(
        "/v1/chat/completions", json={"model": "gpt-5.4", "messages": history}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "after the summary"
    assert backend.compactions["summarized"] == 1
    assert "summarised by the backend" in caplog.text
    history.append({"role": "assistant", "content": "after the summary"})
    after = stored_occupancy(backend, history)
    assert after.used < occupancies[2].used, "the rebased conversation is small again"
    metrics = (await client.get("/metrics")).text
    assert 'cursor_bridge_compactions_total{outcome="summarized"} 1.0' in metrics
    status = (await client.get("/status")).text
    assert f"{after.used} / {WINDOW} (summarised)" in status

    # The next turn resumes the rebased conversation: its history is the summary (written
    # by the emulator from the six earlier messages) and the turn after it.
    history.append({"role": "user", "content": "/recall"})
    reply = await client.post(
        "/v1/chat/completions", json={"model": "gpt-5.4", "messages": history}
    )
    assert reply.status_code == 200 and backend.compactions["summarized"] == 1
    recalled = reply.json()["choices"][0]["message"]["content"]
    assert "user=Summary of the conversation so far" in recalled
    assert "Summary of 6 messages" in recalled
    assert "assistant=after the summary" in recalled
    assert f"{WORDS} 1" not in recalled


async def test_too_long_without_a_checkpoint_is_refused_in_each_dialect(
    bridge: tuple[httpx.AsyncClient, CursorBackend, EmulatorServer],
) -> None:
    client, _, emulator = bridge
    huge = " ".join(["lorem"] * 2000)
    runs = emulator.counters.runs_opened
    openai = await client.post(
        "/v1/chat/completions",
        json={"model": "gpt-5.4", "messages": [{"role": "user", "content": huge}]},
    )
    assert openai.status_code == 400
    error = openai.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
    assert f"context window is {WINDOW} tokens" in error["message"]
    anthropic = await client.post(
        "/v1/messages",
        json={
            "model": "claude-4.6-sonnet",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": huge}],
        },
    )
    assert anthropic.status_code == 400
    assert anthropic.json()["error"]["type"] == "invalid_request_error"
    assert "context window" in anthropic.json()["error"]["message"]
    assert emulator.counters.runs_opened == runs, "refused before any Run"


async def test_backend_refusal_for_length_maps_to_context_length_exceeded(
    bridge: tuple[httpx.AsyncClient, CursorBackend, EmulatorServer],
) -> None:
    client, _, _ = bridge
    message = "/fault error invalid_argument Conversation too long"
    reply = await client.post(
        "/v1/chat/completions",
        json={"model": "gpt-5.4", "messages": [{"role": "user", "content": message}]},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "context_length_exceeded"
