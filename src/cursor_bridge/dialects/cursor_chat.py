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

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format

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
from ..engine.request import (
    ChatRequest,
)
from ..protocol.messages import aiserver
from . import chat_body, cursor_tools
from .common import InvalidRequest as InvalidRequest
from .dialect import BodyRenderer, Dialect, ErrorReport, StreamRenderer
from .openai_errors import OpenAIErrors

PROTO_FIELD_NAMES = True  # seed 000 shows `tool_call_v2`, not `toolCallV2`
DONE = "data: [DONE]\n\n"


def parse_request(body: Any) -> ChatRequest:
    """The request as the engine sees it; always a streamed turn (Cursor's chat is a stream)."""
    return dataclasses.replace(chat_body.parse_request(body), stream=True)


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
            elif isinstance(event, KeepAlive):
                out.append(SSE_KEEP_ALIVE)
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


# -- the dialect ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CursorChatRequest:
    """The body as sent (for an OpenAI-compatible upstream) and the engine's request."""

    body: dict[str, Any]
    chat: ChatRequest


class CursorChat(OpenAIErrors, Dialect[CursorChatRequest]):
    """`POST /cursor/chat/completions`: always a stream; errors in OpenAI's shape."""

    name = "cursor-chat"

    def parse(self, body: Any) -> CursorChatRequest:
        return CursorChatRequest(body, parse_request(body))

    def turn_request(self, parsed: CursorChatRequest) -> ChatRequest:
        return parsed.chat

    def renderer(
        self, parsed: CursorChatRequest, input_tokens: int
    ) -> StreamRenderer | BodyRenderer:
        return ChatStream()


class ChatStream(StreamRenderer):
    """StreamWriter's events, ended by `[DONE]` (a finish first if the turn sent none)."""

    def __init__(self) -> None:
        self.writer = StreamWriter()
        self.finished = False

    def batch(self, events: Sequence[OutputEvent]) -> str:
        self.finished = self.finished or any(isinstance(e, TurnFinished) for e in events)
        return self.writer.render(events)

    def end(self) -> str:
        finish = "" if self.finished else self.writer.finish(TurnFinished("stop", Usage()))
        return finish + self.writer.done()

    def error(self, report: ErrorReport) -> str:
        return self.writer.error(OpenAIErrors().error_body(report))
