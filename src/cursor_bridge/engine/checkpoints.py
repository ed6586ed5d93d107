"""A conversation's checkpoints: the one a new turn starts from, the one a turn ends with.

A turn that ends keeps the backend's checkpoint, filed under the fingerprint of the history
it ends (the client's messages plus the answer), with the Run's blobs (engine/turn_state.py).
The conversation's next request (that history plus a user message) finds it by the
fingerprint of everything before its last message, and a fresh Run resumes from it instead
of re-seeding the whole history. A checkpoint too large to send, or kept for another
account, is not resumed.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from ..store import StateStore, StoredCheckpoint
from .request import ChatMessage
from .run_handle import RunHandle
from .turn_state import save_turn

# A stored checkpoint larger than this is not resumed: the conversation is reseeded under a
# new conversation_id instead. P's budget: "drop and rebuild a checkpoint > 48 MiB", under the
# 64 MiB frame limit (current-client.md §8).
MAX_RESUMABLE_CHECKPOINT = 48 * 1024 * 1024


class Checkpoints:
    """Finds the checkpoint a request resumes and files the one each turn ends with."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        # Why checkpoints were or were not resumed (resumed / over_budget / other_account /
        # blob_missing), for /metrics.
        self.resumes: Counter[str] = Counter()
        self._closing: set[asyncio.Task[None]] = set()

    async def parent(
        self, messages: tuple[ChatMessage, ...], prints: list[str], account: str
    ) -> StoredCheckpoint | None:
        """The checkpoint of the turn this request follows, if we have one it may resume
        (*prints* is `chain(messages)`)."""
        if not follows_an_answer(messages):
            return None
        key = parent_key(prints)
        # From memory while the conversation is live; else the store, off the event loop.
        stored = self.state.peek_checkpoint(key)
        if stored is None:
            stored = await asyncio.to_thread(self.state.load_checkpoint, key)
        if stored is not None and len(stored.checkpoint) > MAX_RESUMABLE_CHECKPOINT:
            self.resumes["over_budget"] += 1
            return None
        if stored is not None and stored.meta.get("account", "") != account:
            # The conversation moved to another account: its state stays with the old one.
            self.resumes["other_account"] += 1
            return None
        return stored

    def keep(self, run: RunHandle, history: str, model_key: str, account: str = "") -> None:
        """File the checkpoint of a Run whose turn ended, under *history* (the fingerprint of
        the history it ends), so the conversation's next turn can start from it. A Run whose
        end is already read is closed here; else it is left to close by itself in the
        background, and a later checkpoint replaces this one."""

        def save(checkpoint: bytes | None) -> None:
            if checkpoint:
                meta = {"conversation_id": run.conversation_id, "model": model_key}
                if account:
                    meta["account"] = account
                key = _key(history)
                save_turn(self.state, key, checkpoint, meta, run.blobs, run.resumed_from)

        save(run.checkpoint)
        if run.finish_now():
            return  # the usual turn end: the Run's end came with it, nothing to wait for

        async def finish() -> None:
            before = run.checkpoint
            checkpoint = await run.finish()
            if checkpoint != before:
                save(checkpoint)

        task = asyncio.get_running_loop().create_task(finish())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Wait for the Runs still closing (their last checkpoints are filed)."""
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def parent_key(prints: list[str]) -> str:
    """The store key of the checkpoint a request's history before its last message ends."""
    return _key(prints[-2])


def _key(fingerprint: str) -> str:
    """Checkpoints are filed under the fingerprint of the history they end."""
    return "fp:" + fingerprint


def follows_an_answer(messages: tuple[ChatMessage, ...]) -> bool:
    """Whether a checkpoint can exist for the history before the last message: checkpoints
    are filed after an assistant answer, and the request adds a user message to it."""
    return len(messages) >= 2 and messages[-1].role == "user" and messages[-2].role == "assistant"
