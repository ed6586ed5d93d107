"""OpenAI Chat Completions: request parsing and response rendering (pure, no I/O).

`parse_request()` turns a decoded JSON body into the internal ChatRequest or raises
InvalidRequest naming the offending parameter; the `render_*` functions build the JSON
objects of the response (whole or as stream chunks).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from ..engine.output import ToolCall, Usage
from ..engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    NamedToolChoice,
    ToolCallRecord,
    ToolChoice,
    ToolSpec,
)


class InvalidRequest(Exception):
    """A 400: the body does not describe a valid chat completion request."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


# -- request schema -----------------------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class ImageURL(_Lenient):
    url: str


class ImagePart(_Lenient):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class FunctionCall(_Lenient):
    name: str
    arguments: str = ""


class ToolCallIn(_Lenient):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class MessageIn(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


class FunctionDef(_Lenient):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class ToolIn(_Lenient):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Lenient):
    name: str


class NamedToolChoiceIn(_Lenient):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Lenient):
    include_usage: StrictBool = False


class ChatCompletionBody(_Lenient):
    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[MessageIn], Field(min_length=1)]
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    reasoning_effort: str | None = None
    tools: list[ToolIn] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoiceIn | None = None
    parallel_tool_calls: StrictBool = True
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    max_completion_tokens: Annotated[int, Field(gt=0)] | None = None
    n: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None


def parse_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        parsed = ChatCompletionBody.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        param = ".".join(
            str(part) for part in error["loc"] if not str(part).startswith("function-")
        )
        raise InvalidRequest(f"Invalid value for '{param}': {error['msg']}", param) from exc
    if parsed.n not in (None, 1):
        raise InvalidRequest("Only n=1 is supported.", "n")
    messages = tuple(_message(m, i) for i, m in enumerate(parsed.messages))
    tools = tuple(
        ToolSpec(t.function.name, t.function.description, t.function.parameters)
        for t in parsed.tools or ()
    )
    return ChatRequest(
        model=parsed.model,
        messages=messages,
        stream=parsed.stream,
        include_usage=bool(parsed.stream_options and parsed.stream_options.include_usage),
        reasoning_effort=parsed.reasoning_effort,
        tools=tools,
        max_tokens=parsed.max_completion_tokens or parsed.max_tokens,
        tool_choice=_tool_choice(parsed.tool_choice, tools),
        parallel_tool_calls=parsed.parallel_tool_calls,
    )


def _tool_choice(choice: str | NamedToolChoiceIn | None, tools: tuple[ToolSpec, ...]) -> ToolChoice:
    if choice is None or choice == "auto":
        return "auto"
    if choice == "none":
        return "none"
    if not tools:
        raise InvalidRequest("tool_choice needs tools.", "tool_choice")
    if choice == "required":
        return "required"
    assert isinstance(choice, NamedToolChoiceIn)
    if choice.function.name not in {t.name for t in tools}:
        raise InvalidRequest(
            f"tool_choice names '{choice.function.name}', which is not in tools.",
            "tool_choice.function.name",
        )
    return NamedToolChoice(choice.function.name)


def _message(message: MessageIn, index: int) -> ChatMessage:
    role = "system" if message.role == "developer" else message.role
    texts: list[str] = []
    images: list[ImageInput] = []
    if isinstance(message.content, str):
        texts.append(message.content)
    elif message.content is not None:
        for part_index, part in enumerate(message.content):
            if isinstance(part, TextPart):
                texts.append(part.text)
            else:
                param = f"messages.{index}.content.{part_index}.image_url"
                images.append(_image(part.image_url.url, param))
    if role == "tool" and not message.tool_call_id:
        raise InvalidRequest("Tool messages need a tool_call_id.", f"messages.{index}.tool_call_id")
    if role == "user" and message.content is None:
        raise InvalidRequest("User messages need content.", f"messages.{index}.content")
    calls = tuple(
        ToolCallRecord(c.id, c.function.name, c.function.arguments)
        for c in message.tool_calls or ()
    )
    return ChatMessage(
        role=role,
        text="\n".join(texts),
        images=tuple(images),
        tool_calls=calls,
        tool_call_id=message.tool_call_id,
        name=message.name,
        reasoning=message.reasoning_content or "",
    )


def _image(url: str, param: str) -> ImageInput:
    """Images must be inline `data:` URLs: the bridge does not fetch remote content."""
    if not url.startswith("data:") or ";base64," not in url:
        raise InvalidRequest("Only base64 data: URLs are supported for images.", param)
    header, _, payload = url.partition(";base64,")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("The image data is not valid base64.", param) from exc
    return ImageInput(header.removeprefix("data:") or "image/png", data)


# -- response rendering -------------------------------------------------------------------


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage_body(usage: Usage) -> dict[str, Any]:
    """OpenAI usage from backend counters.

    (inferred) The backend's input count excludes cache reads and writes (Anthropic-style
    counters); OpenAI's prompt_tokens includes cached tokens, so they are added back.
    """
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def tool_call_body(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def chunk(
    completion_id: str,
    model: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: str | None = None,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def usage_chunk(completion_id: str, model: str, created: int, usage: Usage) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage_body(usage),
    }


def completion(
    completion_id: str,
    model: str,
    content: str,
    reasoning: str,
    usage: Usage,
    finish_reason: str = "stop",
    tool_calls: list[ToolCall] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content if content or not tool_calls else None,
        "refusal": None,
    }
    if reasoning:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [tool_call_body(call) for call in tool_calls]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": usage_body(usage),
    }


class ChunkWriter:
    """Renders the stream chunks of one completion as SSE bytes.

    The envelope of every chunk is the same, so it is encoded once and only the delta is
    encoded per chunk: the hot path of a relayed stream.
    """

    def __init__(self, completion_id: str, model: str, created: int) -> None:
        self.completion_id, self.model, self.created = completion_id, model, created
        head = json.dumps(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
            },
            separators=(",", ":"),
        )
        self._prefix = "data: " + head[:-1] + ',"choices":[{"index":0,"delta":'
        self._suffix = ',"logprobs":null,"finish_reason":null}]}\n\n'

    def delta(self, field: str, text: str) -> str:
        return f'{self._prefix}{{"{field}":{json.dumps(text)}}}{self._suffix}'

    def tool_call(self, call: ToolCall) -> str:
        """Two chunks: the call's id and name, then its arguments (clients accumulate both)."""
        head = {
            "tool_calls": [
                {
                    "index": call.index,
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
            ]
        }
        args = {"tool_calls": [{"index": call.index, "function": {"arguments": call.arguments}}]}
        return "".join(
            f"{self._prefix}{json.dumps(delta, separators=(',', ':'))}{self._suffix}"
            for delta in (head, args)
        )

    def role(self) -> str:
        return f'{self._prefix}{{"role":"assistant","content":""}}{self._suffix}'

    def finish(self, reason: str) -> str:
        return sse_text(chunk(self.completion_id, self.model, self.created, {}, reason))

    def usage(self, usage: Usage) -> str:
        return sse_text(usage_chunk(self.completion_id, self.model, self.created, usage))


def sse_text(data: dict[str, Any] | str) -> str:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n"


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event carrying `data` (a JSON object, or a literal like [DONE])."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()
