"""Anthropic Messages API, response side (pure, no I/O): content blocks, SSE events, errors.

`MessageAssembler` turns the engine's output events into content-block operations
(`BlockOp`): the streaming route encodes them as Anthropic's named SSE events with
`block_events()`, the whole route keeps the assembled `content` for one `message` object.
Requests are parsed in `anthropic_messages`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..engine.output import OutputEvent, TextDelta, ThinkingDelta, ToolCall, Usage
from .common import random_hex

STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}

ThinkingDisplay = Literal["summarized", "omitted", "off"]


# -- thinking signatures ------------------------------------------------------------------

_SIG_TEXT = "cb1."
_SIG_HASH = "cb0."


def thinking_signature(text: str, carry_text: bool) -> str:
    """An opaque signature; with carry_text it holds the thinking itself (display=omitted),
    so a later request that sends the empty block back still restores the reasoning."""
    if carry_text:
        return _SIG_TEXT + base64.urlsafe_b64encode(text.encode()).decode()
    return _SIG_HASH + hashlib.sha256(text.encode()).hexdigest()[:32]


def reasoning_from_signature(signature: str) -> str:
    if not signature.startswith(_SIG_TEXT):
        return ""
    try:
        return base64.urlsafe_b64decode(signature[len(_SIG_TEXT) :]).decode()
    except (binascii.Error, ValueError):
        return ""


# -- response rendering -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockOp:
    """One step of the content: `start` (block), `delta` (delta) or `stop` of block `index`."""

    kind: Literal["start", "delta", "stop"]
    index: int
    body: dict[str, Any]


class MessageAssembler:
    """Turns engine output events into content-block operations and, optionally, content.

    Consecutive deltas of one kind share a block; a change of kind closes it. Thinking blocks
    get their signature (a `signature_delta`) just before they close.
    """

    def __init__(
        self, thinking: ThinkingDisplay = "summarized", keep_content: bool = False
    ) -> None:
        self.thinking = thinking
        self.keep_content = keep_content
        self.content: list[dict[str, Any]] = []
        self._open: str | None = None
        self._index = -1
        self._parts: list[str] = []

    def feed(self, event: OutputEvent) -> list[BlockOp]:
        if isinstance(event, TextDelta):
            return self._text(event.text) if event.text else []
        if isinstance(event, ThinkingDelta):
            if self.thinking == "off" or not event.text:
                return []
            return self._thinking(event.text)
        if isinstance(event, ToolCall):
            return self._tool_call(event)
        return []

    def finish(self) -> list[BlockOp]:
        """Close the open block."""
        return self._close()

    def continue_text(self, text: str) -> int | None:
        """Add *text* to the open text block and return the block's index, or None (and do
        nothing) when no text block is open: then `feed` must open one. Lets the streaming
        route write a text delta with `text_delta_event`, no BlockOp in between."""
        if self._open != "text":
            return None
        self._parts.append(text)
        return self._index

    def _text(self, text: str) -> list[BlockOp]:
        return [*self._open_block("text"), self._delta({"type": "text_delta", "text": text}, text)]

    def _thinking(self, text: str) -> list[BlockOp]:
        ops = self._open_block("thinking")
        self._parts.append(text)
        if self.thinking == "summarized":
            ops.append(BlockOp("delta", self._index, {"type": "thinking_delta", "thinking": text}))
        return ops

    def _tool_call(self, call: ToolCall) -> list[BlockOp]:
        ops = self._close()
        self._index += 1
        start = {
            "type": "tool_use",
            "id": call.call_id,
            "name": call.name,
            "input": {},
            "caller": {"type": "direct"},
        }
        delta = {"type": "input_json_delta", "partial_json": call.arguments}
        ops += [
            BlockOp("start", self._index, start),
            BlockOp("delta", self._index, delta),
            BlockOp("stop", self._index, {}),
        ]
        if self.keep_content:
            self.content.append({**start, "input": _arguments(call.arguments)})
        return ops

    def _open_block(self, kind: str) -> list[BlockOp]:
        if self._open == kind:
            return []
        ops = self._close()
        self._open = kind
        self._index += 1
        self._parts = []
        if kind == "text":
            body: dict[str, Any] = {"type": "text", "text": "", "citations": None}
        else:
            body = {"type": "thinking", "thinking": "", "signature": ""}
        return [*ops, BlockOp("start", self._index, body)]

    def _delta(self, delta: dict[str, Any], text: str) -> BlockOp:
        self._parts.append(text)
        return BlockOp("delta", self._index, delta)

    def _close(self) -> list[BlockOp]:
        kind, self._open = self._open, None
        if kind is None:
            return []
        text = "".join(self._parts)
        ops: list[BlockOp] = []
        if kind == "thinking":
            signature = thinking_signature(text, carry_text=self.thinking == "omitted")
            ops.append(
                BlockOp("delta", self._index, {"type": "signature_delta", "signature": signature})
            )
            shown = text if self.thinking == "summarized" else ""
            block: dict[str, Any] = {"type": "thinking", "thinking": shown, "signature": signature}
        else:
            block = {"type": "text", "text": text, "citations": None}
        if self.keep_content:
            self.content.append(block)
        return [*ops, BlockOp("stop", self._index, {})]


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def new_message_id() -> str:
    return f"msg_{random_hex()[:24]}"


def new_request_id() -> str:
    return f"req_{random_hex()[:24]}"


def stop_reason(finish_reason: str, stop_sequence: str | None) -> str:
    if stop_sequence is not None:
        return "stop_sequence"
    return STOP_REASONS.get(finish_reason, "end_turn")


def usage_body(usage: Usage) -> dict[str, Any]:
    """Anthropic usage: the backend's counters are already Anthropic-style (input excludes
    cache reads and writes), so they map one to one. The backend does not split cache writes
    by lifetime: they are reported as 5-minute writes. No server tools run, no region is
    chosen: those fields are zero / null."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens_details": {"thinking_tokens": usage.reasoning_tokens},
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
        "service_tier": "standard",
        "inference_geo": None,
    }


def message_body(
    message_id: str,
    model: str,
    content: list[dict[str, Any]],
    usage: Usage,
    stop: str | None = "end_turn",
    stop_sequence: str | None = None,
) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": stop_sequence,
        "stop_details": None,
        "container": None,
        "usage": usage_body(usage),
    }


def sse_event(name: str, data: dict[str, Any]) -> str:
    """One named server-sent event; the data carries the same `type` as the event name."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def message_start(message_id: str, model: str, input_tokens: int = 0) -> str:
    body = message_body(message_id, model, [], Usage(input_tokens=input_tokens), None)
    return sse_event("message_start", {"type": "message_start", "message": body})


def ping() -> str:
    return sse_event("ping", {"type": "ping"})


def text_delta_event(index: int, text: str) -> str:
    """The `content_block_delta` event of *text* in block *index*: what `block_events` writes
    for it, byte for byte, without the dictionaries (one per relayed chunk)."""
    return (
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
        f'{index},"delta":{{"type":"text_delta","text":{json.dumps(text)}}}}}\n\n'
    )


def block_events(ops: Iterable[BlockOp]) -> str:
    out: list[str] = []
    for op in ops:
        if op.kind == "start":
            name, data = "content_block_start", {"index": op.index, "content_block": op.body}
        elif op.kind == "delta":
            name, data = "content_block_delta", {"index": op.index, "delta": op.body}
        else:
            name, data = "content_block_stop", {"index": op.index}
        out.append(sse_event(name, {"type": name, **data}))
    return "".join(out)


def message_end(stop: str, stop_sequence: str | None, usage: Usage) -> str:
    delta = {
        "type": "message_delta",
        "delta": {
            "stop_reason": stop,
            "stop_sequence": stop_sequence,
            "stop_details": None,
            "container": None,
        },
        "usage": usage_body(usage),
    }
    return sse_event("message_delta", delta) + sse_event("message_stop", {"type": "message_stop"})


# -- errors -------------------------------------------------------------------------------

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    """Anthropic's error type for an HTTP status (other 4xx: invalid_request, 5xx: api_error)."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def error_body(kind: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def error_event(kind: str, message: str) -> str:
    return sse_event("error", error_body(kind, message))
