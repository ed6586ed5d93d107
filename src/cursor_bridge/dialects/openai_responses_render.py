"""OpenAI Responses API: rendering engine output as a response (pure, no I/O).

One `ResponseBuilder` per response consumes the engine's output events and yields the
documented stream events (with `sequence_number`, `output_index`, `content_index`,
`item_id`); the whole (non-streaming) response is the same builder's final `snapshot()`, so
both forms always agree. Output items follow the model's order: a change of kind (thinking,
text, tool call) closes the open item and starts the next one.

Thinking becomes a `reasoning` item. Its text is rendered as summary text only when the
client asked for summaries (`reasoning.summary`), as OpenAI does; otherwise the item carries
an empty summary and the usage still counts the reasoning tokens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

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
from .common import random_hex

ItemKind = Literal["reasoning", "message", "function_call", "custom_tool_call"]


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_hex()}"


def usage_body(usage: Usage) -> dict[str, Any]:
    """Responses usage from backend counters.

    (inferred) The backend's input count excludes cache reads and writes (Anthropic-style
    counters); OpenAI's input_tokens includes cached tokens, so they are added back.
    """
    input_tokens = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": input_tokens + usage.output_tokens,
    }


# OpenAI's ResponseError codes; everything the bridge cannot classify is a server error.
_FAILURE_CODES = {"resource_exhausted": "rate_limit_exceeded"}


def failure_code(connect_code: str) -> str:
    return _FAILURE_CODES.get(connect_code, "server_error")


# Templates of feed_sse(): the fields after output_index and after delta, per item kind.
_DELTA_KIND = {
    "message": "response.output_text.delta",
    "reasoning": "response.reasoning_summary_text.delta",
}
_DELTA_INDEX = {"message": '"content_index":0', "reasoning": '"summary_index":0'}
_DELTA_TAIL = {"message": ',"logprobs":[]}\n\n', "reasoning": "}\n\n"}


@dataclass(slots=True)
class _Item:
    kind: ItemKind
    id: str
    parts: list[str] = field(default_factory=list)
    status: str = "in_progress"
    call_id: str = ""
    name: str = ""

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ResponseBuilder:
    """Builds one response from engine output: stream events as dicts, and the final object.

    `echo` holds the request parameters the response object repeats (see the parser).
    """

    def __init__(
        self,
        response_id: str,
        model: str,
        echo: dict[str, Any],
        *,
        summaries: bool,
        namespaces: dict[str, str] | None = None,
        custom_tools: frozenset[str] = frozenset(),
        created_at: int | None = None,
        item_ids: Callable[[str], str] = new_id,
    ) -> None:
        self.response_id = response_id
        self.model = model
        self.echo = echo
        self.summaries = summaries
        self.namespaces = namespaces or {}
        self.custom_tools = custom_tools
        self._new_id = item_ids
        self.created_at = created_at if created_at is not None else int(time.time())
        self.status = "in_progress"
        self.items: list[_Item] = []
        self.usage: Usage | None = None
        self.error: dict[str, Any] | None = None
        self.incomplete_reason: str | None = None
        self.completed_at: int | None = None
        self._open: _Item | None = None
        self._seq = 0

    # -- events -----------------------------------------------------------------------

    def start(self) -> list[dict[str, Any]]:
        return [
            self._event("response.created", response=self.snapshot()),
            self._event("response.in_progress", response=self.snapshot()),
        ]

    def feed(self, event: OutputEvent) -> list[dict[str, Any]]:
        if isinstance(event, TextDelta):
            return self._text(event.text) if event.text else []
        if isinstance(event, ThinkingDelta):
            return self._thinking(event.text) if event.text else []
        if isinstance(event, ToolCall):
            return self._tool_call(event)
        return []  # TurnFinished: the route calls finish()

    def feed_sse(self, event: OutputEvent) -> str:
        """`feed()` already encoded as SSE text.

        The hot path of a relayed stream, a delta continuing the open item, is written from a
        template (byte for byte what `sse_event()` gives for the same event dict).
        """
        if isinstance(event, KeepAlive):
            return SSE_KEEP_ALIVE
        item = self._open
        if (
            item is not None
            and isinstance(event, TextDelta | ThinkingDelta)
            and event.text
            and (item.kind == "message") == isinstance(event, TextDelta)
            and (item.kind == "message" or self.summaries)
        ):
            item.parts.append(event.text)
            seq = self._seq
            self._seq += 1
            kind = _DELTA_KIND[item.kind]
            return (
                f'event: {kind}\ndata: {{"type":"{kind}","sequence_number":{seq},'
                f'"item_id":"{item.id}","output_index":{len(self.items) - 1},'
                f'{_DELTA_INDEX[item.kind]},"delta":{json.dumps(event.text)}{_DELTA_TAIL[item.kind]}'
            )
        return "".join(map(sse_event, self.feed(event)))

    def finish(self, finished: TurnFinished) -> list[dict[str, Any]]:
        """Close the open item and end the response (`incomplete` when cut by the limit)."""
        truncated = finished.reason == "length"
        events = self._close("incomplete" if truncated else "completed")
        self.usage = finished.usage
        self.completed_at = int(time.time())
        if truncated:
            self.status, self.incomplete_reason = "incomplete", "max_output_tokens"
            events.append(self._event("response.incomplete", response=self.snapshot()))
        else:
            self.status = "completed"
            events.append(self._event("response.completed", response=self.snapshot()))
        return events

    def fail(
        self, code: str, message: str, *, error_code: str | None = None
    ) -> list[dict[str, Any]]:
        """A mid-stream failure: an `error` event, then `response.failed`.

        `code` is the Responses error code (see failure_code); `error_code` the more specific
        code of the `error` event (defaults to `code`).
        """
        if self._open is not None:
            self._open.status = "incomplete"
            self._open = None
        self.status = "failed"
        self.error = {"code": code, "message": message}
        return [
            self._event("error", code=error_code or code, message=message, param=None),
            self._event("response.failed", response=self.snapshot()),
        ]

    # -- the response object ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The response object as it stands (the final object once finished)."""
        body: dict[str, Any] = {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": self.status,
            "background": False,
            "completed_at": self.completed_at,
            "error": self.error,
            "incomplete_details": (
                {"reason": self.incomplete_reason} if self.incomplete_reason else None
            ),
            "model": self.model,
            "output": [self._render(item) for item in self.items],
            "usage": usage_body(self.usage) if self.usage is not None else None,
        }
        body.update(self.echo)
        return body

    def output_items(self) -> list[dict[str, Any]]:
        return [self._render(item) for item in self.items]

    # -- internals --------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _begin(self, item: _Item) -> list[dict[str, Any]]:
        self.items.append(item)
        return [
            self._event(
                "response.output_item.added",
                output_index=len(self.items) - 1,
                item=self._render(item, fresh=True),
            )
        ]

    def _text(self, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        item = self._open
        if item is None or item.kind != "message":
            events = self._close("completed")
            item = self._open = _Item("message", self._new_id("msg"))
            events += self._begin(item)
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=item.id,
                    output_index=len(self.items) - 1,
                    content_index=0,
                    part=_text_part(""),
                )
            )
        item.parts.append(text)
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=item.id,
                output_index=len(self.items) - 1,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _thinking(self, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        item = self._open
        index = len(self.items) - 1
        if item is None or item.kind != "reasoning":
            events = self._close("completed")
            item = self._open = _Item("reasoning", self._new_id("rs"))
            events += self._begin(item)
            index = len(self.items) - 1
            if self.summaries:
                events.append(
                    self._event(
                        "response.reasoning_summary_part.added",
                        item_id=item.id,
                        output_index=index,
                        summary_index=0,
                        part=_summary_part(""),
                    )
                )
        item.parts.append(text)
        if self.summaries:
            events.append(
                self._event(
                    "response.reasoning_summary_text.delta",
                    item_id=item.id,
                    output_index=index,
                    summary_index=0,
                    delta=text,
                )
            )
        return events

    def _tool_call(self, call: ToolCall) -> list[dict[str, Any]]:
        if call.name in self.custom_tools:
            return self._custom_call(call)
        events = self._close("completed")
        item = _Item("function_call", self._new_id("fc"), call_id=call.call_id, name=call.name)
        events += self._begin(item)
        index = len(self.items) - 1
        item.parts.append(call.arguments)
        events.append(
            self._event(
                "response.function_call_arguments.delta",
                item_id=item.id,
                output_index=index,
                delta=call.arguments,
            )
        )
        events.append(
            self._event(
                "response.function_call_arguments.done",
                item_id=item.id,
                output_index=index,
                name=call.name,
                arguments=call.arguments,
            )
        )
        item.status = "completed"
        events.append(
            self._event("response.output_item.done", output_index=index, item=self._render(item))
        )
        return events

    def _custom_call(self, call: ToolCall) -> list[dict[str, Any]]:
        """A free-form tool's call: its one string argument is the item's `input`."""
        events = self._close("completed")
        item = _Item("custom_tool_call", self._new_id("ctc"), call_id=call.call_id, name=call.name)
        events += self._begin(item)
        index = len(self.items) - 1
        text = custom_input(call.arguments)
        item.parts.append(text)
        common = {"item_id": item.id, "output_index": index}
        events.append(self._event("response.custom_tool_call_input.delta", **common, delta=text))
        events.append(self._event("response.custom_tool_call_input.done", **common, input=text))
        item.status = "completed"
        events.append(
            self._event("response.output_item.done", output_index=index, item=self._render(item))
        )
        return events

    def _close(self, status: str) -> list[dict[str, Any]]:
        """Finish the open reasoning or message item with its `.done` events."""
        item, self._open = self._open, None
        if item is None:
            return []
        index = len(self.items) - 1  # the open item is always the newest
        events: list[dict[str, Any]] = []
        if item.kind == "message":
            events.append(
                self._event(
                    "response.output_text.done",
                    item_id=item.id,
                    output_index=index,
                    content_index=0,
                    text=item.text,
                    logprobs=[],
                )
            )
            events.append(
                self._event(
                    "response.content_part.done",
                    item_id=item.id,
                    output_index=index,
                    content_index=0,
                    part=_text_part(item.text),
                )
            )
        elif self.summaries:
            events.append(
                self._event(
                    "response.reasoning_summary_text.done",
                    item_id=item.id,
                    output_index=index,
                    summary_index=0,
                    text=item.text,
                )
            )
            events.append(
                self._event(
                    "response.reasoning_summary_part.done",
                    item_id=item.id,
                    output_index=index,
                    summary_index=0,
                    part=_summary_part(item.text),
                )
            )
        item.status = status
        events.append(
            self._event("response.output_item.done", output_index=index, item=self._render(item))
        )
        return events

    def _render(self, item: _Item, fresh: bool = False) -> dict[str, Any]:
        """An output item as the API shows it; `fresh` = as first announced (no content)."""
        if item.kind == "message":
            return {
                "id": item.id,
                "type": "message",
                "status": item.status,
                "role": "assistant",
                "content": [] if fresh else [_text_part(item.text)],
            }
        if item.kind == "reasoning":
            summary = [_summary_part(item.text)] if self.summaries and not fresh else []
            return {"id": item.id, "type": "reasoning", "summary": summary}
        if item.kind == "custom_tool_call":
            return {
                "id": item.id,
                "type": "custom_tool_call",
                "status": item.status,
                "call_id": item.call_id,
                "name": item.name,
                "input": "" if fresh else item.text,
            }
        call = {
            "id": item.id,
            "type": "function_call",
            "status": item.status,
            "arguments": "" if fresh else item.text,
            "call_id": item.call_id,
            "name": item.name,
        }
        if item.name in self.namespaces:
            call["namespace"] = self.namespaces[item.name]
        return call


def custom_input(arguments: str) -> str:
    """A custom tool's input from the call's arguments (`{"input": "..."}`)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return str(value["input"])
    return arguments


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _summary_part(text: str) -> dict[str, Any]:
    return {"type": "summary_text", "text": text}


def sse_event(event: dict[str, Any]) -> str:
    """One server-sent event, named by its type as OpenAI's stream does."""
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


def deleted_body(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response.deleted", "deleted": True}
