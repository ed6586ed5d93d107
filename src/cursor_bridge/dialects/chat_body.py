"""The chat-completions request body, read into the engine's ChatRequest (pure).

OpenAI's `/v1/chat/completions` and Cursor IDE's `/cursor/chat/completions` accept the same
body, so both read it here; each renders its own response.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, TypeAdapter, ValidationError

from ..engine import resent_body
from ..engine.request import (
    ChatMessage,
    ChatRequest,
    ImageInput,
    NamedToolChoice,
    OutputFormat,
    Role,
    ToolCallRecord,
    ToolChoice,
    ToolSpec,
)
from .common import InvalidRequest, Lenient, data_url_image, invalid_from, output_format, stop_list

# -- request schema -----------------------------------------------------------------------


class TextPart(Lenient):
    type: Literal["text"]
    text: str


class ImageURL(Lenient):
    url: str


class ImagePart(Lenient):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class FunctionCall(Lenient):
    name: str
    arguments: str = ""


class ToolCallIn(Lenient):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class MessageIn(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


class FunctionDef(Lenient):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class ToolIn(Lenient):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(Lenient):
    name: str


class NamedToolChoiceIn(Lenient):
    type: Literal["function"]
    function: NamedFunction


class JsonSchemaIn(Lenient):
    name: str = ""
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatIn(Lenient):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaIn | None = None


class StreamOptions(Lenient):
    include_usage: StrictBool = False


class ChatCompletionBody(Lenient):
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
    stop: str | list[str] | None = None
    response_format: ResponseFormatIn | None = None
    logprobs: StrictBool | None = None
    top_logprobs: int | None = None


# Options Cursor's agent protocol cannot honour: refused by name rather than ignored.
_UNSUPPORTED = {
    "audio": "audio output is not supported",
    "prediction": "predicted outputs are not supported",
    "web_search_options": "hosted web search is not supported",
}


def parse_request(body: Any) -> ChatRequest:
    """The body as a ChatRequest; the messages of a resent history are the ones parsed
    last round (engine/resent_body.py), only the new ones are validated."""
    reading = resent_body.current(body)
    request = _parse_new(body, reading) if reading is not None else None
    if request is None:
        request = _parse_whole(body)
    if reading is not None:
        reading.keep_derived(_DERIVED, request)
    return request


# The request a remembered body parsed to (its messages one per message of the body).
_DERIVED = "chat.request"
_NEW_MESSAGES: TypeAdapter[list[MessageIn]] = TypeAdapter(list[MessageIn])


def _parse_new(body: dict[str, Any], reading: resent_body.Reading) -> ChatRequest | None:
    """The request with its reused messages taken as parsed last round (a message parses
    the same whatever its neighbours), or None when that is not known or anything fails:
    the caller then parses the whole body, so a bad body gets exactly its usual error.
    When all but the messages is the same bytes as last round, so is the rest of the
    request (tools, options): only the new messages are validated."""
    known: ChatRequest | None = reading.derived(_DERIVED)
    messages = body.get("messages")
    if known is None or len(known.messages) != reading.reused or not isinstance(messages, list):
        return None
    new = messages[reading.reused :]
    try:
        if reading.same_tail:
            added = tuple(
                _message(message, reading.reused + index)
                for index, message in enumerate(_NEW_MESSAGES.validate_python(new))
            )
            return dataclasses.replace(known, messages=known.messages + added)
        # One message keeps the list valid (min_length) when none is new.
        request = _parse_whole({**body, "messages": new or messages[-1:]})
    except Exception:
        return None
    return dataclasses.replace(request, messages=known.messages + (request.messages if new else ()))


def _parse_whole(body: Any) -> ChatRequest:
    plain = _parse_plain(body)
    return plain if plain is not None else _parse_validated(body)


# The body of the plainest request (what most one-off calls send), read without the schema.
_PLAIN_KEYS = frozenset({"model", "messages", "stream"})
_PLAIN_MESSAGE_KEYS = frozenset({"role", "content"})
_PLAIN_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


def _parse_plain(body: Any) -> ChatRequest | None:
    """The request of a body holding nothing but a model, a `stream` flag and text messages
    (`{"role", "content"}`, content a string, no tool role), exactly as _parse_validated
    reads it; None for any other body, which _parse_validated then reads (and refuses, when
    it must). Validating such a body with the schema was most of its parsing time."""
    if type(body) is not dict or not _PLAIN_KEYS.issuperset(body):
        return None
    model = body.get("model")
    stream = body.get("stream", False)
    messages = body.get("messages")
    if type(model) is not str or not model or type(stream) is not bool:
        return None
    if type(messages) is not list or not messages:
        return None
    read: list[ChatMessage] = []
    for message in messages:
        if type(message) is not dict or message.keys() != _PLAIN_MESSAGE_KEYS:
            return None
        role = _PLAIN_ROLES.get(message["role"]) if type(message["role"]) is str else None
        text = message["content"]
        if role is None or type(text) is not str:
            return None
        read.append(ChatMessage(role=role, text=text))
    return ChatRequest(model=model, messages=tuple(read), stream=stream)


def _parse_validated(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        parsed = ChatCompletionBody.model_validate(body)
    except ValidationError as exc:
        raise invalid_from(exc) from exc
    if parsed.n not in (None, 1):
        raise InvalidRequest("Only n=1 is supported.", "n")
    if parsed.logprobs or parsed.top_logprobs:
        param = "logprobs" if parsed.logprobs else "top_logprobs"
        raise InvalidRequest(f"'{param}' is not supported: the backend reports no logprobs.", param)
    for name, reason in _UNSUPPORTED.items():
        if body.get(name) is not None:
            raise InvalidRequest(f"'{name}' is not supported: {reason}.", name)
    if body.get("modalities") not in (None, ["text"]):
        raise InvalidRequest("'modalities' is not supported: only text output.", "modalities")
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
        stop=stop_list(parsed.stop),
        output_format=_format(parsed.response_format),
    )


def _format(response_format: ResponseFormatIn | None) -> OutputFormat | None:
    if response_format is None:
        return None
    schema = response_format.json_schema
    if response_format.type == "json_schema" and schema is None:
        raise InvalidRequest(
            "A json_schema response_format needs `json_schema`.", "response_format"
        )
    return output_format(
        response_format.type,
        schema.schema_ if schema else None,
        schema.name if schema else "",
        "response_format.json_schema" if schema else "response_format",
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
                param = f"messages[{index}].content[{part_index}].image_url"
                images.append(data_url_image(part.image_url.url, param))
    if role == "tool" and not message.tool_call_id:
        raise InvalidRequest(
            "Tool messages need a tool_call_id.", f"messages[{index}].tool_call_id"
        )
    if role == "user" and message.content is None:
        raise InvalidRequest("User messages need content.", f"messages[{index}].content")
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
