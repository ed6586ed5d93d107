"""Long conversations: when the next turn would not fit the model's window.

Facts (run-stream.md 2.4, 2.9, 3.2; current-client.md §8, §10): a checkpoint's
`token_details` is the authoritative context occupancy; `ConversationAction.summarize_action`
(empty) asks the backend to compact a conversation, and it streams `summary_started`,
`summary{text}`, `summary_completed`; the conversation id is rotated after compaction, and a
compaction checkpoint is never resumed as a normal turn: clients rebase instead.

So, before a turn that resumes a stored checkpoint: when the checkpoint's occupancy plus an
estimate of the new message reaches `threshold` of its window, the bridge runs one
summarize Run on that checkpoint, then starts the turn as a new conversation (new id)
seeded with the system prompt, the backend's summary and the new message. A conversation
with no checkpoint to summarise whose estimated size is past the model's window is refused
with `context_length_exceeded` before any Run; so is one the backend refuses as too long.

Inferred (not in the facts): when to summarise (the threshold, default 90%), that the
summary Run ends like a turn, and how the backend words a "too long" refusal.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from .. import access
from ..protocol import events as ev
from ..protocol.errors import ConnectError
from ..protocol.messages import agent
from ..store import StoredCheckpoint
from .request import ChatMessage, ChatRequest
from .run_handle import RunHandle
from .token_estimate import estimate_input_tokens, input_token_bound, text_tokens

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.9
PRECHECK_MARGIN = 1.25
SUMMARY_PREFIX = (
    "Summary of the conversation so far (written by the model when it neared its context window):\n"
)
_TOO_LONG = ("too long", "context length", "context window", "conversation_too_long")


class ContextTooLong(ConnectError):
    """The conversation does not fit the model's window and cannot be summarised."""

    def __init__(self, tokens: int, window: int, detail: str = "") -> None:
        message = (
            f"This conversation needs about {tokens} tokens but the model's context window "
            f"is {window} tokens"
            if tokens and window
            else "This conversation is longer than the model's context window"
        )
        super().__init__("out_of_range", message + (f" ({detail})" if detail else "") + ".")
        self.tokens = tokens
        self.window = window


def is_too_long(error: ConnectError) -> bool:
    """The backend refused the conversation for its length (wording inferred)."""
    text = error.message.lower()
    return error.code in ("invalid_argument", "out_of_range", "failed_precondition") and any(
        marker in text for marker in _TOO_LONG
    )


@dataclass(frozen=True, slots=True)
class Occupancy:
    used: int
    window: int

    def full_after(self, more: int, threshold: float) -> bool:
        return self.window > 0 and self.used + more >= threshold * self.window


def occupancy(checkpoint: bytes) -> Occupancy:
    """The checkpoint's own `token_details` (0/0 when absent or unreadable)."""
    try:
        state = agent.ConversationStateStructure.FromString(checkpoint)
    except Exception:
        return Occupancy(0, 0)
    return Occupancy(state.token_details.used_tokens, state.token_details.max_tokens)


def new_message_tokens(request: ChatRequest) -> int:
    return text_tokens(request.messages[-1].text) + 3


def check_fits(request: ChatRequest, window: int) -> None:
    """Refuse a seeded conversation that cannot fit *window* (no checkpoint to summarise).

    The count is a local estimate (engine/token_estimate.py), so only a conversation well
    past the window is refused here; nearer ones go to the backend, whose refusal for
    length becomes the same error."""
    if window <= 0 or input_token_bound(request) <= window * PRECHECK_MARGIN:
        return  # cannot be over the limit: the full estimate need not be made
    tokens = estimate_input_tokens(request)
    if tokens > window * PRECHECK_MARGIN:
        raise ContextTooLong(tokens, window)


OpenRun = Callable[..., Awaitable[RunHandle]]


async def summarize(open_run: OpenRun, checkpoint: bytes, conversation_id: str | None) -> str:
    """Run `summarize_action` on *checkpoint*; the backend's summary text (raises
    ConnectError when the Run fails or says nothing)."""
    action = agent.ConversationAction(summarize_action=agent.SummarizeAction())
    run = await open_run(checkpoint=checkpoint, conversation_id=conversation_id, action=action)
    parts: list[str] = []
    try:
        while (batch := await run.next_batch()) is not None:
            for event in batch:
                if isinstance(event, ev.Summary):
                    parts.append(event.text)
                elif isinstance(event, ev.ExecRequested):
                    raise ConnectError("internal", "the summary Run asked for a tool")
    finally:
        with contextlib.suppress(ConnectError):
            await run.aclose()
    summary = "".join(parts).strip()
    if not summary:
        raise ConnectError("internal", "the summary Run ended without a summary")
    return summary


def rebased(request: ChatRequest, summary: str) -> ChatRequest:
    """The request as a new conversation: system messages, the summary, the new message."""
    system = [m for m in request.messages if m.role == "system"]
    messages = (*system, ChatMessage("user", SUMMARY_PREFIX + summary), request.messages[-1])
    return replace(request, messages=tuple(messages))


async def summarized(
    open_run: OpenRun, request: ChatRequest, stored: StoredCheckpoint, counts: Counter[str]
) -> ChatRequest | None:
    """The conversation neared its window: the backend summarises it, and the turn goes on
    as a new conversation seeded with the summary (None: summarising failed; counted in
    *counts* as `summarized` / `failed`, and logged)."""
    used = occupancy(stored.checkpoint)
    try:
        summary = await summarize(open_run, stored.checkpoint, stored.meta.get("conversation_id"))
    except ConnectError as exc:
        counts["failed"] += 1
        log.warning("could not summarise a conversation near its window: %s", exc)
        return None
    counts["summarized"] += 1
    log.info(
        "conversation at %d of %d context tokens: summarised by the backend (%d chars), "
        "continuing as a new conversation",
        used.used,
        used.window,
        len(summary),
    )
    note = access.current()
    if note is not None:
        note.summarized = True
    return rebased(request, summary)
