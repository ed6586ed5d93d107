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

from ..dialects import anthropic_messages as dialect
from ..dialects import anthropic_render as render
from ..engine.backend import CursorBackend
from ..engine.errors import InvalidChatRequest, ModelNotFound
from ..engine.output import TextDelta, TurnFinished, Usage
from ..engine.token_estimate import estimate_input_tokens, rough_input_tokens, text_tokens
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


def _final_usage(
    finished: TurnFinished | None, parsed: dialect.MessagesRequest, text: str
) -> Usage:
    """The backend's usage; estimated when a stop sequence cut the turn short before it."""
    if finished is not None:
        return finished.usage
    return Usage(input_tokens=estimate_input_tokens(parsed.chat), output_tokens=text_tokens(text))


async def _stream(turn: Turn, parsed: dialect.MessagesRequest) -> AsyncIterator[str]:
    chat = parsed.chat
    assembler = render.MessageAssembler(parsed.thinking, parsed.stop_sequences)
    finished: TurnFinished | None = None
    emitted: list[str] = []  # only kept when stop sequences may cut the turn short
    try:
        # Anthropic announces the input count up front; the backend's real count arrives in
        # message_delta, so a cheap estimate stands in here.
        start = render.message_start(render.new_message_id(), chat.model, rough_input_tokens(chat))
        yield start + render.ping()
        last_write = time.monotonic()
        async for batch in turn.batches():
            ops: list[render.BlockOp] = []
            for event in batch:
                if isinstance(event, TurnFinished):
                    finished = event
                    continue
                if parsed.stop_sequences and isinstance(event, TextDelta) and not assembler.stopped:
                    emitted.append(event.text)
                ops += assembler.feed(event)
            now = time.monotonic()
            if ops:
                yield render.block_events(ops)
                last_write = now
            elif now - last_write >= PING_INTERVAL:
                yield render.ping()
                last_write = now
            if assembler.stopped:
                break  # the finally below cancels the rest of the turn upstream
        tail = render.block_events(assembler.finish())
        usage = _final_usage(finished, parsed, "".join(emitted))
        stop = assembler.stop_sequence
        reason = render.stop_reason(finished.reason if finished else "stop", stop)
        yield tail + render.message_end(reason, assembler.stop_sequence, usage)
    except ConnectError as exc:
        status, message, _ = _backend_failure(exc)
        yield render.error_event(render.error_type(status), message)
    finally:
        # Runs on client disconnect too (the response task is cancelled): cancel upstream.
        await turn.aclose()


async def _collect(turn: Turn, parsed: dialect.MessagesRequest, request_id: str) -> JSONResponse:
    assembler = render.MessageAssembler(parsed.thinking, parsed.stop_sequences, keep_content=True)
    finished: TurnFinished | None = None
    emitted: list[str] = []
    try:
        async for batch in turn.batches():
            for event in batch:
                if isinstance(event, TurnFinished):
                    finished = event
                    continue
                if parsed.stop_sequences and isinstance(event, TextDelta) and not assembler.stopped:
                    emitted.append(event.text)
                assembler.feed(event)
            if assembler.stopped:
                break
    finally:
        await turn.aclose()
    assembler.finish()
    usage = _final_usage(finished, parsed, "".join(emitted))
    reason = render.stop_reason(finished.reason if finished else "stop", assembler.stop_sequence)
    body = render.message_body(
        render.new_message_id(),
        parsed.chat.model,
        assembler.content,
        usage,
        reason,
        assembler.stop_sequence,
    )
    return JSONResponse(body, headers={"request-id": request_id})
