"""`POST /v1/messages` (Anthropic Messages, streamed or whole) and `/v1/messages/count_tokens`.

Anthropic clients send `x-api-key` or `authorization`, `anthropic-version` and
`anthropic-beta` headers and, like Claude Code, a `?beta=true` query: all are accepted; the
bridge's own Cursor login is what talks to the backend. Every answer carries a `request-id`
header, and errors use Anthropic's `{"type": "error", "error": {...}}` shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .. import access
from ..dialects import anthropic_messages as dialect
from ..dialects import anthropic_render as render
from ..engine.backend import CursorBackend
from ..engine.errors import InvalidChatRequest, ModelNotFound
from ..engine.output import TurnFinished, Usage
from ..engine.token_estimate import estimate_input_tokens
from ..protocol.errors import ConnectError
from .errors import backend_error
from .json_body import InvalidBody, parse_off_loop
from .turns import Turn, start_turn, until_disconnect

log = logging.getLogger(__name__)

# Seconds without any event written before a `ping` keeps the stream visibly alive (omitted
# thinking, for instance, streams nothing until its block closes).
PING_INTERVAL = 10.0


def anthropic_error(
    status: int,
    message: str,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    request_id = request_id or render.new_request_id()
    access.note_error(message)
    body = render.error_body(render.error_type(status), message, request_id)
    return JSONResponse(
        body, status_code=status, headers={**(headers or {}), "request-id": request_id}
    )


def _backend_failure(error: ConnectError) -> tuple[int, str, dict[str, str]]:
    """Status, message and headers for a backend failure: the same statuses (and hints) as
    every other dialect; the Anthropic error type follows from the status."""
    status, body, headers = backend_error(error)
    return status, str(body["error"]["message"]), headers


async def messages(request: Request) -> Response:
    backend: CursorBackend = request.app.state.backend
    request_id = render.new_request_id()
    try:
        parsed = await parse_off_loop(request, dialect.parse_request)
        turn = await start_turn(request, backend, parsed.chat)
    except InvalidBody as exc:
        return anthropic_error(400, exc.message, request_id)
    except dialect.InvalidRequest as exc:
        log.info("rejected a Messages request: %s", exc.message)
        return anthropic_error(400, exc.message, request_id)
    except InvalidChatRequest as exc:
        return anthropic_error(400, str(exc), request_id)
    except ModelNotFound as exc:
        return anthropic_error(404, str(exc), request_id)
    except ConnectError as exc:
        status, message, headers = _backend_failure(exc)
        return anthropic_error(status, message, request_id, headers)
    if parsed.chat.stream:
        return StreamingResponse(
            _stream(turn, parsed),
            media_type="text/event-stream",
            headers={
                "cache-control": "no-cache",
                "x-accel-buffering": "no",
                "request-id": request_id,
            },
        )
    try:
        return await until_disconnect(request, _collect(turn, parsed, request_id))
    except ConnectError as exc:
        status, message, headers = _backend_failure(exc)
        return anthropic_error(status, message, request_id, headers)


async def count_tokens(request: Request) -> Response:
    """A local estimate (engine/token_estimate.py); the model name is still checked."""
    backend: CursorBackend = request.app.state.backend
    request_id = render.new_request_id()
    try:
        parsed = await parse_off_loop(
            request, lambda body: dialect.parse_request(body, count_only=True)
        )
        await until_disconnect(request, backend.resolve(parsed.chat))
    except InvalidBody as exc:
        return anthropic_error(400, exc.message, request_id)
    except dialect.InvalidRequest as exc:
        return anthropic_error(400, exc.message, request_id)
    except InvalidChatRequest as exc:
        return anthropic_error(400, str(exc), request_id)
    except ModelNotFound as exc:
        return anthropic_error(404, str(exc), request_id)
    except ConnectError as exc:
        status, message, headers = _backend_failure(exc)
        return anthropic_error(status, message, request_id, headers)
    return JSONResponse(
        {"input_tokens": estimate_input_tokens(parsed.chat)}, headers={"request-id": request_id}
    )


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


async def _stream(turn: Turn, parsed: dialect.MessagesRequest) -> AsyncIterator[str]:
    chat = parsed.chat
    assembler = render.MessageAssembler(parsed.thinking)
    finished: TurnFinished | None = None
    announced = turn.input_tokens
    try:
        start = render.message_start(render.new_message_id(), chat.model, announced)
        yield start + render.ping()
        last_write = time.monotonic()
        async for batch in turn.batches():
            ops: list[render.BlockOp] = []
            for event in batch:
                if isinstance(event, TurnFinished):
                    finished = event
                    continue
                ops += assembler.feed(event)
            now = time.monotonic()
            if ops:
                yield render.block_events(ops)
                last_write = now
            elif now - last_write >= PING_INTERVAL:
                yield render.ping()
                last_write = now
        tail = render.block_events(assembler.finish())
        stop = finished.stop_sequence if finished is not None else None
        usage = _usage(finished, announced)
        yield tail + render.message_end(_reason(finished), stop, usage)
    except ConnectError as exc:
        status, message, _ = _backend_failure(exc)
        yield render.error_event(render.error_type(status), message)
    finally:
        # Runs on client disconnect too (the response task is cancelled): cancel upstream.
        await turn.aclose()


async def _collect(turn: Turn, parsed: dialect.MessagesRequest, request_id: str) -> JSONResponse:
    assembler = render.MessageAssembler(parsed.thinking, keep_content=True)
    finished: TurnFinished | None = None
    try:
        async for batch in turn.batches():
            for event in batch:
                if isinstance(event, TurnFinished):
                    finished = event
                    continue
                assembler.feed(event)
    finally:
        await turn.aclose()
    assembler.finish()
    usage = _usage(finished, turn.input_tokens)
    body = render.message_body(
        render.new_message_id(),
        parsed.chat.model,
        assembler.content,
        usage,
        _reason(finished),
        finished.stop_sequence if finished is not None else None,
    )
    return JSONResponse(body, headers={"request-id": request_id})
