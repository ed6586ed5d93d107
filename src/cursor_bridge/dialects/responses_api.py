"""The OpenAI Responses API as the server's endpoint runner serves it (pure, no I/O).

`OpenAIResponses` answers `POST /v1/responses`: `previous_response_id` resolves, through
the `history_of` it is given, to the conversation so far (the engine sees the whole history
either way), and a finished response is handed to `keep` unless the client sent
`store: false`. `ResponsesCompact` answers `POST /v1/responses/compact`, Codex's remote
compaction, done by the Cursor model itself: Cursor's protocol lists a `SummarizeAction`,
but the protocol facts do not say what the backend answers to it or how its checkpoint would
map onto a Responses history, so the bridge does not guess: it asks the selected model, in
an ordinary turn with no tools, to summarise the conversation, and returns that summary as
one `compaction` item. The item's `encrypted_content` is the summary, merely encoded
(`openai_responses.compaction_content`): when a client sends the item back, the summary
becomes a user message that opens the compacted conversation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..engine.output import OutputEvent, TextDelta, TurnFinished, Usage
from ..engine.request import ChatMessage, ChatRequest
from . import openai_responses_render as render
from .common import InvalidRequest
from .dialect import BodyRenderer, Dialect, ErrorReport, Refused, StreamRenderer
from .openai_errors import OpenAIErrors
from .openai_responses import ResponsesRequest, compaction_content, items_to_messages
from .openai_responses import parse_request as parse_responses

log = logging.getLogger(__name__)

# The conversation that led to a stored response, by its id (None: not stored).
HistoryLookup = Callable[[str], tuple[ChatMessage, ...] | None]
# Keeps a finished response: its id, the response object, the conversation including it.
Keep = Callable[[str, dict[str, Any], tuple[ChatMessage, ...]], None]

# The engine names parameters in the internal model's terms; these are the Responses names.
_PARAMS = {
    "messages": "input",
    "max_tokens": "max_output_tokens",
    "reasoning_effort": "reasoning.effort",
}

SUMMARY_REQUEST = (
    "Summarise the conversation so far for your own later use: the goal, the decisions made, "
    "the facts and file contents learned, what was done and what remains. Answer with the "
    "summary only."
)


class OpenAIResponses(OpenAIErrors, Dialect[ResponsesRequest]):
    name = "openai-responses"

    def __init__(self, history_of: HistoryLookup, keep: Keep) -> None:
        self.history_of = history_of
        self.keep = keep
        self.history: tuple[ChatMessage, ...] = ()

    def parse(self, body: Any) -> ResponsesRequest:
        return parse_responses(body)

    def turn_request(self, parsed: ResponsesRequest) -> ChatRequest:
        for note in parsed.notes:
            log.debug("responses: %s", note)
        if parsed.previous_response_id:
            history = self.history_of(parsed.previous_response_id)
            if history is None:
                message = f"Previous response with id '{parsed.previous_response_id}' not found."
                report = ErrorReport(
                    400, message, "previous_response_not_found", "previous_response_id"
                )
                raise Refused(report)
            self.history = history
        return parsed.chat_request(self.history)

    def request_param(self, param: str | None) -> str | None:
        return _PARAMS.get(param, param) if param else None

    def renderer(
        self, parsed: ResponsesRequest, input_tokens: int
    ) -> StreamRenderer | BodyRenderer:
        builder = render.ResponseBuilder(
            render.new_id("resp"),
            parsed.model,
            parsed.echo,
            summaries=parsed.reasoning_summary is not None,
            namespaces=parsed.namespaces,
            custom_tools=parsed.custom_tools,
        )

        def finished() -> None:
            if not parsed.store:
                return
            output = items_to_messages(builder.output_items())
            history = (*self.history, *parsed.input, *output)
            self.keep(builder.response_id, builder.snapshot(), history)

        if parsed.stream:
            return ResponseStream(builder, finished)
        return ResponseBody(builder, finished)


class ResponseStream(StreamRenderer):
    """`response.created` ... `response.completed`; a failure ends with `response.failed`."""

    def __init__(self, builder: render.ResponseBuilder, finished: Callable[[], None]) -> None:
        self.builder = builder
        self.on_finish = finished
        self.finished = TurnFinished("stop", Usage())

    def start(self) -> str:
        return "".join(map(render.sse_event, self.builder.start()))

    def batch(self, events: Sequence[OutputEvent]) -> str:
        out: list[str] = []
        for event in events:
            if isinstance(event, TurnFinished):
                self.finished = event
            else:
                out.append(self.builder.feed_sse(event))
        return "".join(out)

    def end(self) -> str:
        tail = self.builder.finish(self.finished)
        self.on_finish()
        return "".join(map(render.sse_event, tail))

    def error(self, report: ErrorReport) -> str:
        code = render.failure_code(report.backend_code)
        events = self.builder.fail(code, report.message, error_code=report.code)
        return "".join(map(render.sse_event, events))


class ResponseBody(BodyRenderer):
    def __init__(self, builder: render.ResponseBuilder, finished: Callable[[], None]) -> None:
        self.builder = builder
        self.on_finish = finished
        self.finished = TurnFinished("stop", Usage())

    def feed(self, events: Sequence[OutputEvent]) -> None:
        for event in events:
            if isinstance(event, TurnFinished):
                self.finished = event
            else:
                self.builder.feed(event)

    def body(self) -> dict[str, Any]:
        self.builder.finish(self.finished)
        self.on_finish()
        return self.builder.snapshot()


class ResponsesCompact(OpenAIErrors, Dialect[ResponsesRequest]):
    """The conversation (`model`, `input`, `instructions`) summarised into one item."""

    name = "openai-responses"

    def parse(self, body: Any) -> ResponsesRequest:
        if not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        body = {key: body[key] for key in ("model", "input", "instructions") if key in body}
        body.setdefault("input", [])
        return parse_responses(body)

    def turn_request(self, parsed: ResponsesRequest) -> ChatRequest:
        return ChatRequest(
            model=parsed.model,
            messages=(*parsed.chat_request().messages, ChatMessage("user", SUMMARY_REQUEST)),
            include_usage=True,
            tool_choice="none",
        )

    def request_param(self, param: str | None) -> str | None:
        return "input"

    def renderer(
        self, parsed: ResponsesRequest, input_tokens: int
    ) -> StreamRenderer | BodyRenderer:
        return CompactionBody()


class CompactionBody(BodyRenderer):
    def __init__(self) -> None:
        self.text: list[str] = []
        self.usage = Usage()

    def feed(self, events: Sequence[OutputEvent]) -> None:
        for event in events:
            if isinstance(event, TextDelta):
                self.text.append(event.text)
            elif isinstance(event, TurnFinished):
                self.usage = event.usage

    def body(self) -> dict[str, Any]:
        item_id = render.new_id("cmp")
        item = {
            "type": "compaction",
            "id": item_id,
            "encrypted_content": compaction_content("".join(self.text)),
        }
        return {
            "id": item_id,
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [item],
            "usage": render.usage_body(self.usage),
        }
