"""What a turn produces, as every dialect sees it: the engine's one output event stream.

Dialects render these and nothing else; protocol details (KV blobs, checkpoints, exec ids,
heartbeats) never reach them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..protocol.events import TextDelta, ThinkingDelta, Todo, TodosUpdated, Usage

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


@dataclass(frozen=True, slots=True)
class HostedCall:
    """A tool the bridge runs itself started or ended (`label`: `SERVER.TOOL {args}`).

    Informational: HTTP dialects ignore it (with `x-cursor-bridge-mcp: show` the same call
    also arrives as reasoning text); the ACP agent shows it as a tool call."""

    call_id: str
    label: str
    status: Literal["in_progress", "completed", "failed"]
    detail: str = ""


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """Nothing to show, but work goes on (a hosted tool is running): a stream sends bytes
    its client ignores (an SSE comment, Anthropic's ping), so no idle timer fires and a
    client that went away is noticed."""


# SSE comment lines are skipped by every SSE parser.
SSE_KEEP_ALIVE = ": keep-alive\n\n"

# TodosUpdated: the agent's plan; dialects without a place for it ignore it.
OutputEvent = (
    TextDelta
    | ThinkingDelta
    | ToolCall
    | TurnFinished
    | TurnStarted
    | TodosUpdated
    | KeepAlive
    | HostedCall
)

__all__ = [
    "SSE_KEEP_ALIVE",
    "FinishReason",
    "HostedCall",
    "KeepAlive",
    "OutputEvent",
    "TextDelta",
    "ThinkingDelta",
    "Todo",
    "TodosUpdated",
    "ToolCall",
    "TurnFinished",
    "TurnStarted",
    "Usage",
]
