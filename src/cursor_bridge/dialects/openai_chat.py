"""OpenAI Chat Completions: request parsing and response rendering (pure, no I/O).

`parse_request()` turns a decoded JSON body into the internal ChatRequest or raises
InvalidRequest naming the offending parameter; the rendering functions build the JSON
objects of the response (whole or as stream chunks); `OpenAIChat` is the dialect the
server's endpoint runner serves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..engine.output import (
    SSE_KEEP_ALIVE,
    KeepAlive,
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    TurnFinished,
    Usage,
)
from ..engine.request import ChatRequest
from .chat_body import parse_request
from .common import InvalidRequest, random_hex
from .dialect import BodyRenderer, Dialect, ErrorReport, StreamRenderer
from .openai_errors import OpenAIErrors

__all__ = ["InvalidRequest", "OpenAIChat", "parse_request"]

# What json.dumps writes for a str with its defaults (the encoder it calls), and for any
# value with separators=(",", ":") (one encoder for all instead of one made per call).
_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


# -- response rendering -------------------------------------------------------------------


def new_completion_id() -> str:
    return f"chatcmpl-{random_hex()}"


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
        "annotations": [],
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
        # What json.dumps(chunk(...), separators=(",", ":")) writes, a field at a time.
        self._prefix = (
            f'data: {{"id":{_json_string(completion_id)},"object":"chat.completion.chunk",'
            f'"created":{int(created)},"model":{_json_string(model)},"choices":[{{"index":0,'
            '"delta":'
        )
        self._suffix = ',"logprobs":null,"finish_reason":null}]}\n\n'

    def delta(self, field: str, text: str) -> str:
        return f'{self._prefix}{{"{field}":{_json_string(text)}}}{self._suffix}'

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
            f"{self._prefix}{_compact_json(delta)}{self._suffix}" for delta in (head, args)
        )

    def role(self) -> str:
        return f'{self._prefix}{{"role":"assistant","content":""}}{self._suffix}'

    def finish(self, reason: str) -> str:
        """The chunk of `chunk(..., {}, reason)`."""
        return f'{self._prefix}{{}},"logprobs":null,"finish_reason":{json.dumps(reason)}}}]}}\n\n'

    def usage(self, usage: Usage) -> str:
        return sse_text(usage_chunk(self.completion_id, self.model, self.created, usage))


def sse_text(data: dict[str, Any] | str) -> str:
    text = data if isinstance(data, str) else _compact_json(data)
    return f"data: {text}\n\n"


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event carrying `data` (a JSON object, or a literal like [DONE])."""
    text = data if isinstance(data, str) else _compact_json(data)
    return f"data: {text}\n\n".encode()


# -- the dialect ------------------------------------------------------------------------


class OpenAIChat(OpenAIErrors, Dialect[ChatRequest]):
    """`POST /v1/chat/completions`."""

    name = "openai-chat"

    def parse(self, body: Any) -> ChatRequest:
        return parse_request(body)

    def turn_request(self, parsed: ChatRequest) -> ChatRequest:
        return parsed

    def renderer(self, parsed: ChatRequest, input_tokens: int) -> StreamRenderer | BodyRenderer:
        if parsed.stream:
            return ChunkStream(parsed.model, parsed.include_usage)
        return CompletionBody(parsed.model)


# What a stream that ends without the engine's TurnFinished reports (frozen: one for all).
_UNFINISHED = TurnFinished("stop", Usage())


class ChunkStream(StreamRenderer):
    """The `chat.completion.chunk` stream, ended by `[DONE]`."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.writer = ChunkWriter(new_completion_id(), model, int(time.time()))
        self.include_usage = include_usage
        self.finished = _UNFINISHED
        self._role = self.writer.role()  # sent with the first batch: one write for the first token

    def batch(self, events: Sequence[OutputEvent]) -> str:
        writer = self.writer
        out: list[str] = [self._role] if self._role else []
        self._role = ""
        for event in events:
            if isinstance(event, TextDelta):
                out.append(writer.delta("content", event.text))
            elif isinstance(event, ThinkingDelta):
                out.append(writer.delta("reasoning_content", event.text))
            elif isinstance(event, ToolCall):
                out.append(writer.tool_call(event))
            elif isinstance(event, TurnFinished):
                self.finished = event
            elif isinstance(event, KeepAlive):
                out.append(SSE_KEEP_ALIVE)
        return "".join(out)

    def end(self) -> str:
        tail = self._role + self.writer.finish(self.finished.reason)
        if self.include_usage:
            tail += self.writer.usage(self.finished.usage)
        return tail + sse_text("[DONE]")

    def error(self, report: ErrorReport) -> str:
        return sse_text(OpenAIErrors().error_body(report))


class CompletionBody(BodyRenderer):
    """The whole `chat.completion` object."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[ToolCall] = []
        self.finished = _UNFINISHED

    def feed(self, events: Sequence[OutputEvent]) -> None:
        for event in events:
            if isinstance(event, TextDelta):
                self.text.append(event.text)
            elif isinstance(event, ThinkingDelta):
                self.reasoning.append(event.text)
            elif isinstance(event, ToolCall):
                self.calls.append(event)
            elif isinstance(event, TurnFinished):
                self.finished = event

    def body(self) -> dict[str, Any]:
        return completion(
            new_completion_id(),
            self.model,
            "".join(self.text),
            "".join(self.reasoning),
            self.finished.usage,
            self.finished.reason,
            self.calls,
        )
