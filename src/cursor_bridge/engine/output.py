"""What a turn produces, as every dialect sees it: the engine's one output event stream.

Dialects render these and nothing else; protocol details (KV blobs, checkpoints, exec ids,
heartbeats) never reach them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..protocol.events import TextDelta, ThinkingDelta, Usage

FinishReason = Literal["stop", "tool_calls", "length"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the client must execute; `arguments` is complete JSON object text.

    `index` counts the calls of one response from 0; `call_id` is what the client sends back
    with the result (OpenAI `tool_call_id`, Anthropic `tool_use_id`, Responses `call_id`).
    """

    index: int
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """The response is complete: `tool_calls` means the client owes results for every ToolCall."""

    reason: FinishReason
    usage: Usage
    # The stop sequence that ended the answer (its text withheld), if one did.
    stop_sequence: str | None = None


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """Leads a response's first batch: the input tokens known before any output (the last
    checkpoint's context occupancy plus an estimate of what is new, else a local estimate),
    for dialects that announce usage up front (Anthropic's message_start)."""

    input_tokens: int


OutputEvent = TextDelta | ThinkingDelta | ToolCall | TurnFinished | TurnStarted

__all__ = [
    "FinishReason",
    "OutputEvent",
    "TextDelta",
    "ThinkingDelta",
    "ToolCall",
    "TurnFinished",
    "TurnStarted",
    "Usage",
]
