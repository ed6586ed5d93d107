"""The Anthropic Messages dialect as the server's endpoint runner serves it (pure, no I/O).

Parsing is `anthropic_messages`, the wire pieces `anthropic_render`; this module puts them
together: the message stream (`message_start`, content blocks, `message_delta`, a `ping`
when quiet), the whole message, and errors as `{"type": "error", "error": {...}}`. Every
answer to one request carries the same `request-id` header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine.output import OutputEvent, TextDelta, TurnFinished, Usage
from ..engine.request import ChatRequest
from . import anthropic_render as render
from .anthropic_messages import MessagesRequest, parse_request
from .dialect import BodyRenderer, Dialect, ErrorReport, ErrorShape, StreamRenderer

# Seconds without any event written before a `ping` keeps the stream visibly alive (omitted
# thinking, for instance, streams nothing until its block closes).
PING_INTERVAL = 10.0


class AnthropicErrors(ErrorShape):
    """Anthropic's error body; the error type follows from the status."""

    def __init__(self) -> None:
        self.request_id = render.new_request_id()
        self.headers = {"request-id": self.request_id}

    def error_body(self, report: ErrorReport) -> dict[str, Any]:
        kind = render.error_type(report.status)
        return render.error_body(kind, report.message, self.request_id)


class AnthropicMessages(AnthropicErrors, Dialect[MessagesRequest]):
    """`POST /v1/messages` (and, parsing with `count_only`, `/v1/messages/count_tokens`)."""

    name = "anthropic"

    def __init__(self, *, count_only: bool = False) -> None:
        super().__init__()
        self.count_only = count_only

    def parse(self, body: Any) -> MessagesRequest:
        return parse_request(body, count_only=self.count_only)

    def turn_request(self, parsed: MessagesRequest) -> ChatRequest:
        return parsed.chat

    def renderer(self, parsed: MessagesRequest, input_tokens: int) -> StreamRenderer | BodyRenderer:
        if parsed.chat.stream:
            return MessageStream(parsed, input_tokens)
        return MessageBody(parsed, input_tokens)


def _usage(finished: TurnFinished | None, announced: int) -> Usage:
    """Anthropic announces the input tokens in message_start, before the backend has counted
    them: every Anthropic answer (message_delta, and the whole message) reports that same
    up-front figure (engine TurnStarted), so streamed and whole answers and their start and
    end always agree. It counts the whole context as uncached input, so no cache figures
    are added on top; the output counts are the backend's."""
    output = finished.usage if finished is not None else Usage()
    return Usage(
        input_tokens=announced,
        output_tokens=output.output_tokens,
        reasoning_tokens=output.reasoning_tokens,
    )


def _reason(finished: TurnFinished | None) -> str:
    if finished is None:
        return "end_turn"
    return render.stop_reason(finished.reason, finished.stop_sequence)


class MessageStream(StreamRenderer):
    keepalive_interval = PING_INTERVAL

    def __init__(self, parsed: MessagesRequest, input_tokens: int) -> None:
        self.model = parsed.chat.model
        self.assembler = render.MessageAssembler(parsed.thinking)
        self.announced = input_tokens
        self.finished: TurnFinished | None = None

    def start(self) -> str:
        start = render.message_start(render.new_message_id(), self.model, self.announced)
        return start + render.ping()

    def batch(self, events: Sequence[OutputEvent]) -> str:
        out: list[str] = []
        ops: list[render.BlockOp] = []
        assembler = self.assembler
        for event in events:
            if isinstance(event, TurnFinished):
                self.finished = event
                continue
            if isinstance(event, TextDelta) and event.text:
                # More text for the open text block (every chunk after the first): written
                # directly, the same bytes as through a BlockOp.
                index = assembler.continue_text(event.text)
                if index is not None:
                    if ops:
                        out.append(render.block_events(ops))
                        ops = []
                    out.append(render.text_delta_event(index, event.text))
                    continue
            ops += assembler.feed(event)
        if ops:
            out.append(render.block_events(ops))
        return "".join(out)

    def keepalive(self) -> str:
        return render.ping()

    def end(self) -> str:
        finished = self.finished
        tail = render.block_events(self.assembler.finish())
        stop = finished.stop_sequence if finished is not None else None
        return tail + render.message_end(_reason(finished), stop, _usage(finished, self.announced))

    def error(self, report: ErrorReport) -> str:
        return render.error_event(render.error_type(report.status), report.message)


class MessageBody(BodyRenderer):
    def __init__(self, parsed: MessagesRequest, input_tokens: int) -> None:
        self.model = parsed.chat.model
        self.assembler = render.MessageAssembler(parsed.thinking, keep_content=True)
        self.announced = input_tokens
        self.finished: TurnFinished | None = None

    def feed(self, events: Sequence[OutputEvent]) -> None:
        for event in events:
            if isinstance(event, TurnFinished):
                self.finished = event
                continue
            self.assembler.feed(event)

    def body(self) -> dict[str, Any]:
        finished = self.finished
        self.assembler.finish()
        return render.message_body(
            render.new_message_id(),
            self.model,
            self.assembler.content,
            _usage(finished, self.announced),
            _reason(finished),
            finished.stop_sequence if finished is not None else None,
        )
