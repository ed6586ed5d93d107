"""A Run's life across a tool loop, seen from outside: the history is hashed once per request.

Every request needs fingerprints of several prefixes of its history (to claim a parked Run,
find the checkpoint to resume, park, file the turn's checkpoint); the engine computes the
chain once and passes it along, so each message of a request is put in canonical form once,
and the answer that ends a turn once more (its checkpoint's key).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from cursor_bridge.engine import backend, fingerprint
from cursor_bridge.engine.request import ChatMessage
from tests.conftest import Stack

MODEL = "claude-4.6-sonnet"
READ = {
    "type": "function",
    "function": {
        "name": "read",
        "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
}


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ChatMessage]]:
    """Every message put in canonical form (the expensive step of a fingerprint), the
    answer that ends a turn included (hashed by `extend_answer` without a message)."""
    seen: list[ChatMessage] = []
    canonical, extend_answer = fingerprint.canonical, backend.extend_answer

    def counting(message: ChatMessage) -> bytes:
        seen.append(message)
        return canonical(message)

    def counting_answer(start: str, text: str) -> str:
        seen.append(ChatMessage("assistant", text))
        return extend_answer(start, text)

    monkeypatch.setattr(fingerprint, "canonical", counting)
    monkeypatch.setattr(backend, "extend_answer", counting_answer)
    yield seen


def test_each_request_hashes_its_history_once(stack: Stack, hashed: list[ChatMessage]) -> None:
    client = OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": '/tool read {"path": "a"}\n/then\n/tool read {"path": "b"}'},
    ]
    continued = stack.backend.tool_rounds["continued"]
    for number in range(3):
        hashed.clear()
        choice = client.chat.completions.create(
            model=MODEL,
            messages=messages,  # type: ignore[arg-type]
            tools=[READ],  # type: ignore[list-item]
        ).choices[0]
        if number < 2:
            assert choice.finish_reason == "tool_calls"
            assert len(hashed) == len(messages)
            (call,) = choice.message.tool_calls or []
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": "read", "arguments": call.function.arguments},
                        }
                    ],
                }
            )
            messages.append({"role": "tool", "tool_call_id": call.id, "content": f"r{number}"})
        else:
            assert choice.finish_reason == "stop"
            # The history once, then the answer once (the key its checkpoint is filed under).
            assert len(hashed) == len(messages) + 1
            assert hashed[-1].role == "assistant" and hashed[-1].text == choice.message.content
    assert stack.backend.tool_rounds["continued"] == continued + 2  # one Run for the loop
