"""A conversation's next turn starts from the backend's checkpoint of the previous one.

The checkpoint names the history by blob ids; the bridge keeps the blobs the backend stored
and serves them back. When those blobs are gone, the backend answers `Blob not found` and the
bridge starts over with a Run seeded from the client's history, before anything reached the
client.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from openai import OpenAI

from cursor_bridge.engine.fingerprint import chain, extend
from cursor_bridge.engine.request import ChatMessage
from cursor_bridge.store import MemoryStateStore, StateStore
from tests.conftest import Stack

MODEL = "claude-4.6-sonnet"


def client_for(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


def ask(client: OpenAI, messages: list[dict[str, Any]]) -> str:
    response = client.chat.completions.create(model=MODEL, messages=messages)
    return response.choices[0].message.content or ""


def wait_checkpoint_saved(stack: Stack, before: int) -> None:
    deadline = time.monotonic() + 10
    while stack.call(_checkpoints(stack)) <= before:
        assert time.monotonic() < deadline, "no checkpoint was saved"
        time.sleep(0.01)


async def _checkpoints(stack: Stack) -> int:
    return stack.backend.state.stats().checkpoints


def test_next_turn_resumes_from_the_checkpoint(stack: Stack) -> None:
    client = client_for(stack)
    saved = stack.call(_checkpoints(stack))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "rules here"},
        {"role": "user", "content": "Hi\n/reply first answer"},
    ]
    assert ask(client, messages) == "first answer"
    wait_checkpoint_saved(stack, saved)
    resumed = stack.backend.checkpoint_resumes["resumed"]
    messages += [
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "/recall"},
    ]
    recall = ask(client, messages)
    assert stack.backend.checkpoint_resumes["resumed"] == resumed + 1
    metrics = httpx.get(stack.bridge_url + "/metrics").text
    assert f'cursor_bridge_checkpoint_resumes_total{{outcome="resumed"}} {resumed + 1}.0' in metrics
    # The backend rebuilt the history from its own blobs, which the bridge served back.
    assert "user=Hi\n/reply first answer" in recall
    assert "assistant=first answer" in recall
    assert "rule=rules here" in recall


def test_edited_answer_is_not_resumed_from_the_checkpoint(stack: Stack) -> None:
    client = client_for(stack)
    saved = stack.call(_checkpoints(stack))
    messages: list[dict[str, Any]] = [{"role": "user", "content": "/reply original"}]
    ask(client, messages)
    wait_checkpoint_saved(stack, saved)
    resumed = stack.backend.checkpoint_resumes["resumed"]
    messages += [
        {"role": "assistant", "content": "edited by the client"},
        {"role": "user", "content": "/recall"},
    ]
    recall = ask(client, messages)
    assert stack.backend.checkpoint_resumes["resumed"] == resumed
    assert "assistant=edited by the client" in recall


def test_missing_blobs_fall_back_to_a_seeded_run(stack: Stack) -> None:
    client = client_for(stack)
    saved = stack.call(_checkpoints(stack))
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Q1\n/reply A1"}]
    ask(client, messages)
    wait_checkpoint_saved(stack, saved)

    async def lose_blobs() -> StateStore:
        # A store that has the checkpoint but none of its blobs. Our own store keeps them
        # together, so this stands for a store another process pruned, or a lost file.
        history = chain([ChatMessage("user", "Q1\n/reply A1")])[-1]
        key = "fp:" + extend(history, ChatMessage("assistant", "A1"))
        stored = stack.backend.state.load_checkpoint(key)
        assert stored is not None
        kept, bare = stack.backend.state, MemoryStateStore()
        bare.save_checkpoint(key, stored.checkpoint, stored.meta)
        stack.backend.checkpoints.state = bare
        return kept

    kept = stack.call(lose_blobs())
    try:
        missing = stack.backend.checkpoint_resumes["blob_missing"]
        messages += [
            {"role": "assistant", "content": "A1"},
            {"role": "user", "content": "/recall"},
        ]
        recall = ask(client, messages)
        assert stack.backend.checkpoint_resumes["blob_missing"] == missing + 1
        assert "user=Q1\n/reply A1" in recall and "assistant=A1" in recall
    finally:
        stack.backend.state.close()
        stack.backend.checkpoints.state = kept
