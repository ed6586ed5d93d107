"""The one internal request model every dialect converts to (and nothing else)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ImageInput:
    mime_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """A tool call the assistant made earlier in the conversation."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    text: str = ""
    images: tuple[ImageInput, ...] = ()
    tool_calls: tuple[ToolCallRecord, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    reasoning: str = ""
    # A tool result the client marked as failed (Anthropic `is_error`).
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the client offers; `parameters` is its JSON schema."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NamedToolChoice:
    """The model must call exactly this tool."""

    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """Structured output the client asked for: any JSON object, or JSON matching `schema`."""

    kind: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = False
    include_usage: bool = False
    reasoning_effort: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int | None = None
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    # Tools the bridge hosts (engine/hosted.py): offered (`on`), not (`off`), or offered with
    # each call reported as reasoning (`show`).
    hosted_tools: Literal["on", "off", "show"] = "on"
    # Output controls the engine enforces (engine/output_control.py, engine/enforce.py).
    stop: tuple[str, ...] = ()
    output_format: OutputFormat | None = None
