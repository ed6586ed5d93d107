"""`/v1/responses`: the OpenAI Responses API over the engine, streamed or whole.

`POST` resolves `previous_response_id` from the response store into the full conversation
(the engine sees the whole history either way), runs the turn and stores the finished
response unless the client sent `store: false`. `GET` and `DELETE /v1/responses/{id}` read
and remove stored responses.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..dialects import openai_responses as dialect
from ..dialects import openai_responses_render as render
from ..engine.backend import CursorBackend
from ..engine.errors import InvalidChatRequest, ModelNotFound
from ..engine.output import TurnFinished, Usage
from ..engine.request import ChatMessage
from ..protocol.errors import ConnectError
from .errors import backend_error, backend_error_response, error_response
from .json_body import InvalidBody, parse_off_loop
from .response_store import ResponseStore
from .turns import Turn, start_turn, until_disconnect

log = logging.getLogger(__name__)

# The engine names parameters in the internal model's terms; these are the Responses names.
_PARAMS = {
    "messages": "input",
    "max_tokens": "max_output_tokens",
    "reasoning_effort": "reasoning.effort",
}


async def create_response(request: Request) -> Response:
    backend: CursorBackend = request.app.state.backend
    store: ResponseStore = request.app.state.responses
    try:
        parsed = await parse_off_loop(request, dialect.parse_request)
    except InvalidBody as exc:
        return error_response(400, exc.message, "invalid_request_error")
    except dialect.InvalidRequest as exc:
        return error_response(400, exc.message, "invalid_request_error", exc.code, exc.param)
    for note in parsed.notes:
        log.debug("responses: %s", note)
    history: tuple[ChatMessage, ...] = ()
    if parsed.previous_response_id:
        previous = store.get(parsed.previous_response_id)
        if previous is None:
            message = f"Previous response with id '{parsed.previous_response_id}' not found."
            return error_response(
                400,
                message,
                "invalid_request_error",
                "previous_response_not_found",
                "previous_response_id",
            )
        history = previous.history
    try:
        turn = await start_turn(request, backend, parsed.chat_request(history))
    except InvalidChatRequest as exc:
        param = _PARAMS.get(exc.param, exc.param) if exc.param else None
        return error_response(400, str(exc), "invalid_request_error", param=param)
    except ModelNotFound as exc:
        return error_response(404, str(exc), "invalid_request_error", "model_not_found", "model")
    except ConnectError as exc:
        return backend_error_response(exc)
    builder = render.ResponseBuilder(
        render.new_id("resp"),
        parsed.model,
        parsed.echo,
        summaries=parsed.reasoning_summary is not None,
        namespaces=parsed.namespaces,
        custom_tools=parsed.custom_tools,
    )
    run = _Run(turn, builder, parsed, history, store)
    if parsed.stream:
        return StreamingResponse(
            run.stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    try:
        return await until_disconnect(request, run.collect())
    except ConnectError as exc:
        return backend_error_response(exc)


class _Run:
    """One response being produced: feeds the turn's events to the builder, stores the result."""

    def __init__(
        self,
        turn: Turn,
        builder: render.ResponseBuilder,
        parsed: dialect.ResponsesRequest,
        history: tuple[ChatMessage, ...],
        store: ResponseStore,
    ) -> None:
        self.turn, self.builder, self.parsed = turn, builder, parsed
        self.history, self.store = history, store

    async def stream(self) -> AsyncIterator[str]:
        builder = self.builder
        finished = TurnFinished("stop", Usage())
        try:
            yield "".join(map(render.sse_event, builder.start()))
            async for batch in self.turn.batches():
                out: list[str] = []
                for event in batch:
                    if isinstance(event, TurnFinished):
                        finished = event
                    else:
                        out.append(builder.feed_sse(event))
                if any(out):
                    yield "".join(out)
            tail = builder.finish(finished)
            self._keep()
            yield "".join(map(render.sse_event, tail))
        except ConnectError as exc:
            _, body, _ = backend_error(exc)
            error = body["error"]
            events = builder.fail(
                render.failure_code(exc.code), error["message"], error_code=error["code"]
            )
            yield "".join(map(render.sse_event, events))
        finally:
            # Runs on client disconnect too (the response task is cancelled): cancel upstream.
            await self.turn.aclose()

    async def collect(self) -> JSONResponse:
        finished = TurnFinished("stop", Usage())
        try:
            async for batch in self.turn.batches():
                for event in batch:
                    if isinstance(event, TurnFinished):
                        finished = event
                    else:
                        self.builder.feed(event)
        finally:
            await self.turn.aclose()
        self.builder.finish(finished)
        self._keep()
        return JSONResponse(self.builder.snapshot())

    def _keep(self) -> None:
        if not self.parsed.store:
            return
        output = dialect.items_to_messages(self.builder.output_items())
        history = (*self.history, *self.parsed.input, *output)
        self.store.put(self.builder.response_id, self.builder.snapshot(), history)


async def get_response(request: Request) -> Response:
    store: ResponseStore = request.app.state.responses
    response_id = request.path_params["response_id"]
    entry = store.get(response_id)
    if entry is None:
        return _not_found(response_id)
    return JSONResponse(entry.body)


async def delete_response(request: Request) -> Response:
    store: ResponseStore = request.app.state.responses
    response_id = request.path_params["response_id"]
    if not store.delete(response_id):
        return _not_found(response_id)
    return JSONResponse(render.deleted_body(response_id))


def _not_found(response_id: str) -> Response:
    message = f"Response with id '{response_id}' not found."
    return error_response(404, message, "invalid_request_error", param="response_id")
