"""Cursor IDE's chat stream (seed 000): request parsing and stream rendering (pure, no I/O).

Cursor IDE's BYOK path posts an OpenAI chat-completions body and reads the answer as
`aiserver.v1.StreamUnifiedChatResponse` messages in protobuf's JSON mapping, one per
server-sent event. Following seed 000 exactly:

- framing: SSE, one ``data: {json}`` event per message, ended by ``data: [DONE]``
  (seed 000 keeps the proxy's SSE framing and only replaces the chunk payload);
- field names: the proto field names (``tool_call_v2``, ``read_file_params``) as seed 000
  shows them; protobuf JSON parsers accept them as well as the lowerCamelCase names
  (`PROTO_FIELD_NAMES` switches);
- enums as numbers (``"tool": 5``), as seed 000 shows;
- text: ``{"text": ...}``; thinking: ``{"thinking": {"text": ...}}``;
- each tool call: ``{"partial_tool_call": {...}}`` then ``{"tool_call_v2": {...}}``
  (see `cursor_tools`); after the calls of a response ``{"parallel_tool_calls_complete":
  true}`` (inferred from the reference: the flag exists, its use is not observed);
- errors before the stream starts are HTTP errors with an OpenAI error body; an error
  mid-stream is one ``data: {"error": {...}}`` event (same body) and no ``[DONE]``.

`StreamUnifiedChatResponse` has no usage counters, so usage is not sent.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from ..engine.output import OutputEvent, TextDelta, ThinkingDelta, ToolCall, TurnFinished
from ..engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    NamedToolChoice,
    ToolCallRecord,
    ToolChoice,
    ToolSpec,
)
from ..protocol.messages import aiserver
from . import cursor_tools

PROTO_FIELD_NAMES = True  # seed 000 shows `tool_call_v2`, not `toolCallV2`
DONE = "data: [DONE]\n\n"


class InvalidRequest(Exception):
    """A 400: the body is not a chat request this endpoint can serve."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


# -- request: the chat-completions body, read into the engine's ChatRequest ------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class _TextPart(_Lenient):
    type: Literal["text"]
    text: str


class _ImageURL(_Lenient):
    url: str


class _ImagePart(_Lenient):
    type: Literal["image_url"]
    image_url: _ImageURL


class _Function(_Lenient):
    name: str
    arguments: str = ""


class _ToolCallIn(_Lenient):
    id: str
    function: _Function


class _MessageIn(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[Annotated[_TextPart | _ImagePart, Field(discriminator="type")]] | None = (
        None
    )
    name: str | None = None
    tool_calls: list[_ToolCallIn] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


class _FunctionDef(_Lenient):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class _ToolIn(_Lenient):
    type: Literal["function"]
    function: _FunctionDef


class _NamedFunction(_Lenient):
    name: str


class _NamedChoice(_Lenient):
    type: Literal["function"]
    function: _NamedFunction


class _StreamOptions(_Lenient):
    include_usage: StrictBool = False


class _Body(_Lenient):
    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[_MessageIn], Field(min_length=1)]
    stream_options: _StreamOptions | None = None
    reasoning_effort: str | None = None
    tools: list[_ToolIn] | None = None
    tool_choice: Literal["none", "auto", "required"] | _NamedChoice | None = None
    parallel_tool_calls: StrictBool = True
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    max_completion_tokens: Annotated[int, Field(gt=0)] | None = None


def parse_request(body: Any) -> ChatRequest:
    """The request as the engine sees it; always a streamed turn (Cursor's chat is a stream)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        parsed = _Body.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        param = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
        raise InvalidRequest(f"Invalid value for '{param}': {error['msg']}", param) from exc
    tools = tuple(
        ToolSpec(t.function.name, t.function.description, t.function.parameters)
        for t in parsed.tools or ()
    )
    return ChatRequest(
        model=parsed.model,
        messages=tuple(_message(m, i) for i, m in enumerate(parsed.messages)),
        stream=True,
        include_usage=bool(parsed.stream_options and parsed.stream_options.include_usage),
        reasoning_effort=parsed.reasoning_effort,
        tools=tools,
        max_tokens=parsed.max_completion_tokens or parsed.max_tokens,
        tool_choice=_tool_choice(parsed.tool_choice, tools),
        parallel_tool_calls=parsed.parallel_tool_calls,
    )


def _tool_choice(choice: str | _NamedChoice | None, tools: tuple[ToolSpec, ...]) -> ToolChoice:
    if choice is None or choice == "auto":
        return "auto"
    if choice == "none":
        return "none"
    if not tools:
        raise InvalidRequest("tool_choice needs tools.", "tool_choice")
    if choice == "required":
        return "required"
    assert isinstance(choice, _NamedChoice)
    if choice.function.name not in {t.name for t in tools}:
        raise InvalidRequest(
            f"tool_choice names '{choice.function.name}', which is not in tools.",
            "tool_choice.function.name",
        )
    return NamedToolChoice(choice.function.name)


def _message(message: _MessageIn, index: int) -> ChatMessage:
    role = "system" if message.role == "developer" else message.role
    texts: list[str] = []
    images: list[ImageInput] = []
    if isinstance(message.content, str):
        texts.append(message.content)
    elif message.content is not None:
        for part_index, part in enumerate(message.content):
            if isinstance(part, _TextPart):
                texts.append(part.text)
            else:
                param = f"messages.{index}.content.{part_index}.image_url"
                images.append(_image(part.image_url.url, param))
    if role == "tool" and not message.tool_call_id:
        raise InvalidRequest("Tool messages need a tool_call_id.", f"messages.{index}.tool_call_id")
    if role == "user" and message.content is None:
        raise InvalidRequest("User messages need content.", f"messages.{index}.content")
    return ChatMessage(
        role=role,
        text="\n".join(texts),
        images=tuple(images),
        tool_calls=tuple(
            ToolCallRecord(c.id, c.function.name, c.function.arguments)
            for c in message.tool_calls or ()
        ),
        tool_call_id=message.tool_call_id,
        name=message.name,
        reasoning=message.reasoning_content or "",
    )


def _image(url: str, param: str) -> ImageInput:
    """Only inline `data:` URLs: the bridge does not fetch remote content."""
    if not url.startswith("data:") or ";base64," not in url:
        raise InvalidRequest("Only base64 data: URLs are supported for images.", param)
    header, _, payload = url.partition(";base64,")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("The image data is not valid base64.", param) from exc
    return ImageInput(header.removeprefix("data:") or "image/png", data)


# -- response: StreamUnifiedChatResponse messages as SSE -------------------------------------


def to_json(message: aiserver.StreamUnifiedChatResponse) -> dict[str, Any]:
    """Protobuf's JSON mapping of one stream message, in seed 000's spelling."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=PROTO_FIELD_NAMES, use_integers_for_enums=True
    )


def sse_text(data: dict[str, Any] | str) -> str:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n"


def _event(message: aiserver.StreamUnifiedChatResponse) -> str:
    return sse_text(to_json(message))


class StreamWriter:
    """Renders one response's output events as Cursor chat-stream SSE text."""

    def __init__(self) -> None:
        self._thinking = False
        self.tool_calls = 0

    def render(self, events: Iterable[OutputEvent]) -> str:
        out: list[str] = []
        for event in events:
            if isinstance(event, TextDelta):
                out.append(self.text(event.text))
            elif isinstance(event, ThinkingDelta):
                out.append(self.thinking(event.text))
            elif isinstance(event, ToolCall):
                out.append(self.tool_call(event))
            elif isinstance(event, TurnFinished):
                out.append(self.finish(event))
        return "".join(out)

    def text(self, text: str) -> str:
        # The hot path: the same bytes as `_event(StreamUnifiedChatResponse(text=text))`.
        if not text:
            return ""
        return self._end_thinking() + f'data: {{"text":{json.dumps(text)}}}\n\n'

    def thinking(self, text: str) -> str:
        if not text:
            return ""
        self._thinking = True
        thinking = aiserver.ConversationMessage_Thinking(text=text)
        return _event(aiserver.StreamUnifiedChatResponse(thinking=thinking))

    def tool_call(self, call: ToolCall) -> str:
        """Two messages: the partial call (which tool, which id), then the call with params."""
        self.tool_calls += 1
        partial = aiserver.StreamUnifiedChatResponse(
            partial_tool_call=cursor_tools.partial_tool_call(call)
        )
        full = aiserver.StreamUnifiedChatResponse(tool_call_v2=cursor_tools.tool_call_v2(call))
        return self._end_thinking() + _event(partial) + _event(full)

    def finish(self, finished: TurnFinished) -> str:
        out = self._end_thinking()
        if self.tool_calls:
            # (inferred) the reference's flag for "every call of this response was sent".
            done = aiserver.StreamUnifiedChatResponse(parallel_tool_calls_complete=True)
            out += _event(done)
        return out

    def done(self) -> str:
        return DONE

    def error(self, body: dict[str, Any]) -> str:
        """A failure after the stream started: the error body as the last event."""
        return self._end_thinking() + sse_text(body)

    def _end_thinking(self) -> str:
        """(inferred) Mark the end of a thinking run before other output follows."""
        if not self._thinking:
            return ""
        self._thinking = False
        last = aiserver.ConversationMessage_Thinking(is_last_thinking_chunk=True)
        return _event(aiserver.StreamUnifiedChatResponse(thinking=last))
