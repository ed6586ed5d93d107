"""OpenAI chat-completion stream chunks → the engine's output events (pure, no I/O).

Text and reasoning deltas pass straight through. Tool calls arrive in pieces (the id and
name first, the arguments in fragments, keyed by `index`), so they are assembled and
emitted whole when the choice finishes. `TurnFinished` comes last, at `[DONE]` or the end
of the stream, carrying the usage chunk that `stream_options.include_usage` asks for.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..engine.output import (
    FinishReason,
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    TurnFinished,
    Usage,
)

DONE = "[DONE]"


class UpstreamError(Exception):
    """The upstream failed or broke the protocol; `status` is what our client should see."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after


@dataclass(slots=True)
class _PendingCall:
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChunkReader:
    """Feed it each SSE `data` payload of one streamed completion, then `end()`."""

    def __init__(self) -> None:
        self._calls: list[_PendingCall] = []
        self._by_index: dict[int, _PendingCall] = {}
        self._emitted = 0
        self._finish: str | None = None
        self._usage = Usage()
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    def feed(self, data: str) -> list[OutputEvent]:
        """Events for one payload; raises UpstreamError for error or malformed chunks."""
        if self._finished:
            return []
        if data.strip() == DONE:
            return self._finish_turn()
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            chunk = None
        if not isinstance(chunk, dict):
            raise UpstreamError(502, f"The upstream sent a malformed chunk: {data[:200]!r}")
        if chunk.get("error") is not None:
            raise error_from_body(chunk, 502)
        if isinstance(chunk.get("usage"), dict):
            self._usage = _usage(chunk["usage"])
        out: list[OutputEvent] = []
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out.extend(self._choice(choice))
        return out

    def end(self) -> list[OutputEvent]:
        """The stream closed: finish the turn, or fail if it ended before finishing."""
        if self._finished:
            return []
        if self._finish is None:
            raise UpstreamError(502, "The upstream ended the stream before the answer finished.")
        return self._finish_turn()

    def _choice(self, choice: dict[str, Any]) -> list[OutputEvent]:
        out: list[OutputEvent] = []
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                out.append(ThinkingDelta(reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                out.append(TextDelta(content))
            for piece in delta.get("tool_calls") or ():
                if isinstance(piece, dict):
                    self._tool_piece(piece)
        if choice.get("finish_reason"):
            self._finish = str(choice["finish_reason"])
            out.extend(self._flush_calls())
        return out

    def _tool_piece(self, piece: dict[str, Any]) -> None:
        index = piece.get("index")
        if not isinstance(index, int):
            index = len(self._calls)
        function = piece.get("function") if isinstance(piece.get("function"), dict) else {}
        assert isinstance(function, dict)
        call_id = piece.get("id")
        pending = self._by_index.get(index)
        # A new id at a known index is a new call (some servers send every call at index 0).
        if pending is None or (call_id and pending.call_id and call_id != pending.call_id):
            pending = _PendingCall()
            self._calls.append(pending)
            self._by_index[index] = pending
        if isinstance(call_id, str) and call_id:
            pending.call_id = call_id
        if isinstance(function.get("name"), str) and function["name"] and not pending.name:
            pending.name = function["name"]
        if isinstance(function.get("arguments"), str):
            pending.arguments.append(function["arguments"])

    def _flush_calls(self) -> list[OutputEvent]:
        out: list[OutputEvent] = []
        for pending in self._calls[self._emitted :]:
            arguments = "".join(pending.arguments).strip() or "{}"
            call_id = pending.call_id or f"call_{uuid.uuid4().hex[:24]}"
            out.append(ToolCall(self._emitted, call_id, pending.name, arguments))
            self._emitted += 1
        return out

    def _finish_turn(self) -> list[OutputEvent]:
        self._finished = True
        out = self._flush_calls()
        out.append(TurnFinished(self._reason(), self._usage))
        return out

    def _reason(self) -> FinishReason:
        if self._emitted:
            return "tool_calls"
        if self._finish == "length":
            return "length"
        return "stop"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _usage(body: dict[str, Any]) -> Usage:
    """OpenAI counts cached prompt tokens inside prompt_tokens; the engine counts them apart."""
    prompt = _int(body.get("prompt_tokens"))
    prompt_details = body.get("prompt_tokens_details")
    completion_details = body.get("completion_tokens_details")
    cached = _int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else 0
    reasoning = (
        _int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else 0
    )
    return Usage(
        input_tokens=max(0, prompt - cached),
        output_tokens=_int(body.get("completion_tokens")),
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
    )


def client_status(upstream_status: int) -> int:
    """The status our client sees: the upstream's 4xx as is (the request or its key was
    refused), 503/504 as is (retry later / too slow), any other failure as 502."""
    if 400 <= upstream_status <= 499 or upstream_status in (503, 504):
        return upstream_status
    return 502


def error_from_body(body: Any, upstream_status: int, text: str = "") -> UpstreamError:
    """An UpstreamError from an OpenAI-style (or any) error body.

    A numeric error `code` overrides *upstream_status* (LiteLLM sends e.g. "429" in
    mid-stream errors).
    """
    message, code = "", None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        raw_code = error.get("code")
        code = None if raw_code is None else str(raw_code)
    elif isinstance(error, str):
        message = error
    elif isinstance(body, dict):
        message = str(body.get("detail") or body.get("message") or "")
    message = message or text.strip()[:500] or "no details"
    if code is not None and code.isdigit() and 400 <= int(code) <= 599:
        upstream_status = int(code)
    return UpstreamError(client_status(upstream_status), message, code)
