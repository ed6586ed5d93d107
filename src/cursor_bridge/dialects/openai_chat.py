"""OpenAI Chat Completions: request parsing and response rendering (pure, no I/O).

`parse_request()` turns a decoded JSON body into the internal ChatRequest or raises
InvalidRequest naming the offending parameter; the `render_*` functions build the JSON
objects of the response (whole or as stream chunks).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..engine.output import ToolCall, Usage
from .chat_body import parse_request
from .common import InvalidRequest

__all__ = ["InvalidRequest", "parse_request"]


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
