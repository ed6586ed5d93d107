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


OutputEvent = TextDelta | ThinkingDelta | ToolCall | TurnFinished

__all__ = [
    "FinishReason",
    "OutputEvent",
    "TextDelta",
    "ThinkingDelta",
    "ToolCall",
    "TurnFinished",
    "Usage",
]
