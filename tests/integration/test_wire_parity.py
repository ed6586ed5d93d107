"""The bridge against the strict emulator's backend behaviours (current-client.md): every
interaction query kind, compressed frames, trace data, a tool round's seeded history."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import OpenAI

from cursor_bridge.emulator.queries import ALL_QUERY_WORDS
from tests.conftest import Stack
from tests.integration.test_checkpoints import _checkpoints, wait_checkpoint_saved

MODEL = "claude-4.6-sonnet"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def client_for(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


def test_every_interaction_query_gets_a_typed_answer_and_the_turn_finishes(stack: Stack) -> None:
    wrong_before = stack.counters.queries_wrong_shape
    answered_before = stack.counters.queries_answered
    response = client_for(stack).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "/query all"}]
    )
    text = response.choices[0].message.content or ""
    assert response.choices[0].finish_reason == "stop"
    assert [line.split(":")[0] for line in text.splitlines()] == [
        f"- query {word}" for word in ALL_QUERY_WORDS
    ]
    assert "- query ask-question: rejected" in text and "in your reply text" in text
    assert "- query create-plan: error" in text
    assert "- query setup-vm: success" in text
    assert "- query replace-env: failure" in text
    assert "- query unknown: rejected" in text
    assert stack.counters.queries_answered - answered_before == len(ALL_QUERY_WORDS)
    assert stack.counters.queries_wrong_shape == wrong_before


def test_compressed_frames_and_trace_data_are_read(stack: Stack) -> None:
    response = client_for(stack).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "/compress\n/trace\n/reply all compressed"}],
    )
    assert response.choices[0].message.content == "all compressed"


def test_a_traced_tool_call_and_its_seeded_round(stack: Stack) -> None:
    """span_context (either shape) on the exec does not break the call; the fallback Run
    seeds the tool round into the root prompt, so the model sees it."""
    client = client_for(stack)
    first = client.chat.completions.create(
        model=MODEL,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": '/trace\n/tool get_weather {"city": "Oslo"}'}],
    )
    (call,) = first.choices[0].message.tool_calls or []
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    # A different follow-up (not the parked Run's answer): a fresh Run seeded from history.
    second = client.chat.completions.create(
        model=MODEL,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "assistant", "content": "It is sunny."},
            {"role": "user", "content": "/recall"},
        ],
    )
    recalled = second.choices[0].message.content or ""
    assert recalled.startswith("history: rule=Be brief.; system=Be brief.; rules=Be brief.; ")
    assert "user=weather?" in recalled
    assert 'tool_call=mcp_cursor-bridge_get_weather {"city":"Oslo"}' in recalled
    assert "tool=mcp_cursor-bridge_get_weather -> sunny" in recalled
    assert recalled.endswith("assistant=It is sunny.")


def test_a_checkpoint_over_budget_is_not_resumed(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """P's budget (current-client.md §8): a checkpoint past it is dropped and the
    conversation reseeded under a new conversation_id, from the client's history."""
    from cursor_bridge.engine import checkpoints as checkpoints_module

    client = client_for(stack)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "B1\n/reply budget one"}]
    saved = stack.call(_checkpoints(stack))
    client.chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
    wait_checkpoint_saved(stack, saved)
    monkeypatch.setattr(checkpoints_module, "MAX_RESUMABLE_CHECKPOINT", 16)
    before = stack.backend.checkpoint_resumes["over_budget"]
    messages += [
        {"role": "assistant", "content": "budget one"},
        {"role": "user", "content": "/recall"},
    ]
    recall = (
        client.chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
        .choices[0]
        .message.content
        or ""
    )
    assert "user=B1\n/reply budget one" in recall and "assistant=budget one" in recall
    assert stack.backend.checkpoint_resumes["over_budget"] == before + 1
