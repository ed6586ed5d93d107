"""Anthropic Messages API, request side (pure, no I/O); rendering is in `anthropic_render`.

`parse_request()` turns a decoded JSON body into the internal ChatRequest plus the options
that only matter for rendering (thinking display, stop sequences), or raises InvalidRequest
naming the offending field. `max_tokens` is required, as Anthropic requires it. Sampling
settings (`temperature`, `top_p`, `top_k`) and `metadata` are validated and ignored: Cursor's
agent protocol has no such knobs. `max_tokens` and `stop_sequences` are enforced by the
engine (engine/output_control.py); `output_config.format` (json_schema) is given to the model
and its answer validated (engine/enforce.py). Server tools, remote MCP servers and
non-base64 images are rejected with a 400 that says so.

Thinking: `{"type": "enabled", "budget_tokens": N}` maps to a reasoning effort by budget
(N <= 4096: low, N <= 16384: medium, more: high); `output_config.effort` wins when given
(`xhigh` and `max` become high). `{"type": "adaptive"}` without an effort and
`{"type": "disabled"}` leave the model's default variant. Thinking blocks are only returned
when thinking is enabled or adaptive; `display: "omitted"` returns them empty, with the text
kept in the signature so that it survives the round trip through the client.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, TypeAdapter, ValidationError

from ..engine import resent_body
from ..engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    NamedToolChoice,
    OutputFormat,
    ToolCallRecord,
    ToolChoice,
    ToolSpec,
)
from .anthropic_render import ThinkingDisplay, reasoning_from_signature
from .common import InvalidRequest as InvalidRequest
from .common import Lenient, describe_invalid, output_format

LOW_BUDGET_MAX = 4096
MEDIUM_BUDGET_MAX = 16384
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


# -- request schema -----------------------------------------------------------------------


class TextBlock(Lenient):
    type: Literal["text"]
    text: str


class SourceIn(Lenient):
    type: str
    media_type: str | None = None
    data: Any = None


class ImageBlock(Lenient):
    type: Literal["image"]
    source: SourceIn


class DocumentBlock(Lenient):
    type: Literal["document"]
    source: SourceIn


class ToolUseBlock(Lenient):
    type: Literal["tool_use"]
    id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(Lenient):
    type: Literal["tool_result"]
    tool_use_id: Annotated[str, Field(min_length=1)]
    content: str | list[dict[str, Any]] | None = None
    is_error: StrictBool = False


class ThinkingBlock(Lenient):
    type: Literal["thinking"]
    thinking: str = ""
    signature: str = ""


class RedactedThinkingBlock(Lenient):
    type: Literal["redacted_thinking"]


class ToolReferenceBlock(Lenient):
    type: Literal["tool_reference"]
    tool_name: str = ""


_BLOCKS: dict[str, type[Lenient]] = {
    "text": TextBlock,
    "image": ImageBlock,
    "document": DocumentBlock,
    "tool_use": ToolUseBlock,
    "tool_result": ToolResultBlock,
    "thinking": ThinkingBlock,
    "redacted_thinking": RedactedThinkingBlock,
    "tool_reference": ToolReferenceBlock,
}


class MessageIn(Lenient):
    # "system": mid-conversation system messages (Claude Code sends them after the prompt).
    role: Literal["user", "assistant", "system"]
    content: str | list[dict[str, Any]]


class ToolIn(Lenient):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: str = ""
    input_schema: dict[str, Any]


class ToolChoiceIn(Lenient):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: StrictBool = False


class ThinkingIn(Lenient):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: Annotated[int, Field(gt=0)] | None = None
    display: Literal["summarized", "omitted"] | None = None


class OutputConfigIn(Lenient):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: Any = None


class MetadataIn(Lenient):
    user_id: str | None = None


class CountTokensBody(Lenient):
    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[MessageIn], Field(min_length=1)]
    system: str | list[TextBlock] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: ToolChoiceIn | None = None
    thinking: ThinkingIn | None = None
    output_config: OutputConfigIn | None = None
    mcp_servers: list[Any] | None = None


class MessagesBody(CountTokensBody):
    max_tokens: Annotated[int, Field(gt=0)]
    stream: StrictBool = False
    metadata: MetadataIn | None = None
    stop_sequences: list[str] | None = None
    # Accepted for compatibility; Cursor's agent protocol has no sampling knobs.
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A parsed request: what the engine runs and how the answer is rendered."""

    chat: ChatRequest
    thinking: ThinkingDisplay = "off"
    stop_sequences: tuple[str, ...] = ()


def parse_request(body: Any, *, count_only: bool = False) -> MessagesRequest:
    """Validate a Messages (or, with count_only, a count_tokens) body; raises InvalidRequest.
    The messages of a resent history are the ones parsed last round (engine/resent_body.py)
    when all else is unchanged: only the new ones are validated."""
    reading = None if count_only else resent_body.current(body)
    parsed = _parse_new(body, reading) if reading is not None else None
    if parsed is None:
        parsed = _parse_whole(body, count_only)
    if reading is not None:
        reading.keep_derived(_DERIVED, parsed)
    return parsed[0]


# What a remembered body parsed to, and the tool names its tool_use blocks declared.
_DERIVED = "anthropic.request"
_NEW_MESSAGES: TypeAdapter[list[MessageIn]] = TypeAdapter(list[MessageIn])


def _parse_new(
    body: dict[str, Any], reading: resent_body.Reading
) -> tuple[MessagesRequest, dict[str, str]] | None:
    """The request with its reused messages taken as parsed last round, when everything
    but the messages is the same bytes as last round (the rest of the request is then the
    same too); None when that is not known or anything fails: the caller then parses the
    whole body, so a bad body gets exactly its usual error. A message parses the same
    after the same history (the tool names declared so far are part of what is kept)."""
    known: tuple[MessagesRequest, dict[str, str]] | None = reading.derived(_DERIVED)
    messages = body.get("messages")
    if known is None or not reading.same_tail or not isinstance(messages, list):
        return None
    request, declared = known
    tool_names = dict(declared)
    try:
        added = [
            chat_message
            for index, message in enumerate(
                _NEW_MESSAGES.validate_python(messages[reading.reused :])
            )
            for chat_message in _message(message, reading.reused + index, tool_names)
        ]
    except Exception:
        return None
    chat = dataclasses.replace(request.chat, messages=request.chat.messages + tuple(added))
    return dataclasses.replace(request, chat=chat), tool_names


def _parse_whole(body: Any, count_only: bool) -> tuple[MessagesRequest, dict[str, str]]:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    schema = CountTokensBody if count_only else MessagesBody
    try:
        parsed = schema.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    if parsed.mcp_servers:
        raise InvalidRequest("mcp_servers: remote MCP servers are not supported by cursor-bridge.")
    fmt = _output_format(parsed.output_config)
    tools = tuple(_tool(tool, i) for i, tool in enumerate(parsed.tools or ()))
    messages: list[ChatMessage] = []
    if parsed.system:
        system = parsed.system
        text = system if isinstance(system, str) else "\n\n".join(b.text for b in system)
        messages.append(ChatMessage("system", text))
    tool_names: dict[str, str] = {}
    for index, message in enumerate(parsed.messages):
        messages.extend(_message(message, index, tool_names))
    tool_choice, parallel = _tool_choice(parsed.tool_choice, tools)
    thinking = parsed.thinking
    display: ThinkingDisplay = "off"
    if thinking is not None and thinking.type != "disabled":
        display = thinking.display or "summarized"
    if thinking is not None and thinking.type == "enabled" and thinking.budget_tokens is None:
        raise InvalidRequest("thinking.budget_tokens: required when thinking is enabled.")
    stream = False
    max_tokens: int | None = None
    stops: tuple[str, ...] = ()
    if isinstance(parsed, MessagesBody):
        stream, max_tokens = parsed.stream, parsed.max_tokens
        stops = tuple(s for s in parsed.stop_sequences or () if s)
    chat = ChatRequest(
        model=parsed.model,
        messages=tuple(messages),
        stream=stream,
        include_usage=True,
        reasoning_effort=reasoning_effort(thinking, parsed.output_config),
        tools=tools,
        max_tokens=max_tokens,
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        stop=stops,
        output_format=fmt,
    )
    return MessagesRequest(chat, display, stops), tool_names


def _output_format(config: OutputConfigIn | None) -> OutputFormat | None:
    """`output_config.format` ({"type": "json_schema", "schema": {...}})."""
    raw = config.format if config is not None else None
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "json_schema":
        raise InvalidRequest("output_config.format.type: only 'json_schema' is supported.")
    try:
        return output_format("json_schema", raw.get("schema"), raw.get("name"), "")
    except InvalidRequest as exc:
        raise InvalidRequest(f"output_config.format: {exc.message}") from exc


def reasoning_effort(thinking: ThinkingIn | None, output: OutputConfigIn | None) -> str | None:
    """The internal reasoning effort for Anthropic's thinking settings (see module docstring)."""
    if output is not None and output.effort is not None:
        return _EFFORTS[output.effort]
    if thinking is None or thinking.type != "enabled" or thinking.budget_tokens is None:
        return None
    if thinking.budget_tokens <= LOW_BUDGET_MAX:
        return "low"
    if thinking.budget_tokens <= MEDIUM_BUDGET_MAX:
        return "medium"
    return "high"


def _invalid(exc: ValidationError, prefix: str = "") -> InvalidRequest:
    """Anthropic's wording: `messages[0].content[1].type: ...`."""
    param, message = describe_invalid(exc, prefix)
    return InvalidRequest(f"{param}: {message}", param)


def _tool(raw: dict[str, Any], index: int) -> ToolSpec:
    kind = raw.get("type")
    if kind not in (None, "custom"):
        raise InvalidRequest(
            f"tools[{index}]: server tool type '{kind}' is not supported; only client tools "
            "(name, description, input_schema) are."
        )
    try:
        tool = ToolIn.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc, f"tools[{index}]") from exc
    return ToolSpec(tool.name, tool.description, tool.input_schema)


def _tool_choice(
    choice: ToolChoiceIn | None, tools: tuple[ToolSpec, ...]
) -> tuple[ToolChoice, bool]:
    if choice is None:
        return "auto", True
    parallel = not choice.disable_parallel_tool_use
    if choice.type == "auto":
        return "auto", parallel
    if choice.type == "none":
        return "none", parallel
    if not tools:
        raise InvalidRequest(f"tool_choice: type '{choice.type}' needs tools.")
    if choice.type == "any":
        return "required", parallel
    if not choice.name:
        raise InvalidRequest("tool_choice.name: Field required")
    if choice.name not in {t.name for t in tools}:
        raise InvalidRequest(f"tool_choice.name: '{choice.name}' is not one of the tools.")
    return NamedToolChoice(choice.name), parallel


def _blocks(message: MessageIn, index: int) -> Iterable[tuple[str, Lenient]]:
    """(param path, validated block) for each content block."""
    if isinstance(message.content, str):
        yield f"messages[{index}].content", TextBlock(type="text", text=message.content)
        return
    for j, raw in enumerate(message.content):
        where = f"messages[{index}].content[{j}]"
        kind = raw.get("type")
        model = _BLOCKS.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise InvalidRequest(f"{where}.type: content block type '{kind}' is not supported.")
        try:
            yield where, model.model_validate(raw)
        except ValidationError as exc:
            raise _invalid(exc, where) from exc


def _message(message: MessageIn, index: int, tool_names: dict[str, str]) -> list[ChatMessage]:
    texts: list[str] = []
    images: list[ImageInput] = []
    out: list[ChatMessage] = []
    reasoning: list[str] = []
    calls: list[ToolCallRecord] = []
    assistant = message.role == "assistant"
    user = message.role == "user"
    for where, block in _blocks(message, index):
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, DocumentBlock) and not assistant:
            texts.append(_document_text(block, where))
        elif isinstance(block, ImageBlock) and user:
            images.append(_image(block, where))
        elif isinstance(block, ToolResultBlock) and user:
            out.append(_tool_result(block, where, tool_names))
        elif isinstance(block, ThinkingBlock) and assistant:
            reasoning.append(block.thinking or reasoning_from_signature(block.signature))
        elif isinstance(block, RedactedThinkingBlock) and assistant:
            continue  # encrypted upstream thinking we cannot read: nothing to carry over
        elif isinstance(block, ToolUseBlock) and assistant:
            tool_names[block.id] = block.name
            arguments = json.dumps(block.input, ensure_ascii=False, separators=(",", ":"))
            calls.append(ToolCallRecord(block.id, block.name, arguments))
        else:
            kind = getattr(block, "type", "?")
            raise InvalidRequest(
                f"{where}: '{kind}' blocks are not allowed in {message.role} turns."
            )
    if message.role == "system":
        return [ChatMessage("system", "\n".join(texts))]
    if assistant:
        text = "".join(texts)
        thought = "\n".join(r for r in reasoning if r)
        out.append(ChatMessage("assistant", text, tool_calls=tuple(calls), reasoning=thought))
    elif texts or images or not out:
        # Tool results come first (Anthropic requires them at the start of the turn).
        out.append(ChatMessage("user", "\n".join(texts), tuple(images)))
    return out


def _tool_result(block: ToolResultBlock, where: str, tool_names: dict[str, str]) -> ChatMessage:
    texts: list[str] = []
    images: list[ImageInput] = []
    if isinstance(block.content, str):
        texts.append(block.content)
    for j, raw in enumerate(block.content if isinstance(block.content, list) else ()):
        inner = f"{where}.content[{j}]"
        kind = raw.get("type")
        try:
            if kind == "text":
                texts.append(TextBlock.model_validate(raw).text)
            elif kind == "image":
                images.append(_image(ImageBlock.model_validate(raw), inner))
            elif kind == "document":
                texts.append(_document_text(DocumentBlock.model_validate(raw), inner))
            elif kind == "tool_reference":
                name = ToolReferenceBlock.model_validate(raw).tool_name
                texts.append(f"[tool {name} is now available]")
            else:
                raise InvalidRequest(f"{inner}.type: '{kind}' is not supported in tool results.")
        except ValidationError as exc:
            raise _invalid(exc, inner) from exc
    return ChatMessage(
        "tool",
        "\n".join(texts),
        tuple(images),
        tool_call_id=block.tool_use_id,
        name=tool_names.get(block.tool_use_id),
        is_error=block.is_error,
    )


def _image(block: ImageBlock, where: str) -> ImageInput:
    """Only inline base64 images: the bridge does not fetch URLs or uploaded files."""
    source = block.source
    if source.type != "base64" or not isinstance(source.data, str):
        raise InvalidRequest(
            f"{where}.source: only base64 image sources are supported, not '{source.type}'."
        )
    try:
        data = base64.b64decode(source.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{where}.source.data: the image data is not valid base64.") from exc
    return ImageInput(source.media_type or "image/png", data)


def _document_text(block: DocumentBlock, where: str) -> str:
    source = block.source
    if source.type == "text" and isinstance(source.data, str):
        return source.data
    if source.type == "content" and isinstance(source.model_extra, dict):
        parts = source.model_extra.get("content")
        if isinstance(parts, str):
            return parts
        if isinstance(parts, list):
            return "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
    raise InvalidRequest(f"{where}.source: only plain-text documents are supported.")
