"""`POST /cursor/chat/completions`: Cursor IDE's BYOK chat stream over a selectable upstream.

The body is a chat-completions request; the answer is always Cursor's protobuf-JSON chat
stream (`dialects.cursor_chat`). The upstream is this bridge's own Cursor backend (default)
or, when `cursor_chat_upstream` is a base URL, any OpenAI-compatible API, whose streamed
chunks are read into the same output events (`passthrough`), so one renderer serves both.
Failures before the first output get a real HTTP status and an OpenAI error body; later
ones end the stream with an error event. A client that goes away cancels the upstream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..dialects import cursor_chat as dialect
from ..engine.backend import CursorBackend
from ..engine.errors import InvalidChatRequest, ModelNotFound
from ..engine.output import OutputEvent, TurnFinished, Usage
from ..passthrough import OpenAIUpstream, UpstreamError, UpstreamStream
from ..protocol.errors import ConnectError
from .errors import backend_error, backend_error_response, error_body, error_response
from .json_body import InvalidBody, parse_off_loop
from .turns import start_turn, until_disconnect

log = logging.getLogger(__name__)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class _Turn(Protocol):
    def batches(self) -> AsyncIterator[list[OutputEvent]]: ...

    async def aclose(self) -> None: ...


async def cursor_chat_completions(request: Request) -> Response:
    try:
        body, chat = await parse_off_loop(request, lambda body: (body, dialect.parse_request(body)))
    except InvalidBody as exc:
        return error_response(400, exc.message, "invalid_request_error")
    except dialect.InvalidRequest as exc:
        return error_response(400, exc.message, "invalid_request_error", param=exc.param)
    upstream: OpenAIUpstream | None = getattr(request.app.state, "cursor_chat_upstream", None)
    turn: _Turn
    if upstream is None:
        backend: CursorBackend = request.app.state.backend
        try:
            turn = await start_turn(request, backend, chat)
        except InvalidChatRequest as exc:
            return error_response(400, str(exc), "invalid_request_error", param=exc.param)
        except ModelNotFound as exc:
            return error_response(
                404, str(exc), "invalid_request_error", "model_not_found", "model"
            )
        except ConnectError as exc:
            return backend_error_response(exc)
    else:
        try:
            turn = await _start_passthrough(request, upstream, body)
        except UpstreamError as exc:
            return _upstream_error_response(exc)
    return StreamingResponse(
        _stream(turn),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def _start_passthrough(
    request: Request, upstream: OpenAIUpstream, body: dict[str, Any]
) -> UpstreamStream:
    stream = await until_disconnect(request, upstream.open(body))
    try:
        await until_disconnect(request, stream.prefetch())
    except BaseException:
        await stream.aclose()
        raise
    return stream


async def _stream(turn: _Turn) -> AsyncIterator[str]:
    writer = dialect.StreamWriter()
    finished = False
    try:
        async for batch in turn.batches():
            out = writer.render(batch)
            finished = finished or any(isinstance(e, TurnFinished) for e in batch)
            if out:
                yield out
        if not finished:
            yield writer.finish(TurnFinished("stop", Usage()))
        yield writer.done()
    except ConnectError as exc:
        _, body, _ = backend_error(exc)
        yield writer.error(body)
    except UpstreamError as exc:
        log.warning("upstream failed mid-stream: %s", exc.message)
        yield writer.error(_upstream_error_body(exc))
    finally:
        # Runs on client disconnect too (the response task is cancelled): cancel upstream.
        await turn.aclose()


def _upstream_error_body(exc: UpstreamError) -> dict[str, Any]:
    error_type = _ERROR_TYPES.get(exc.status, "api_error")
    code = exc.code if exc.code and not exc.code.isdigit() else "upstream_error"
    return error_body(exc.message, error_type, code)


def _upstream_error_response(exc: UpstreamError) -> JSONResponse:
    headers = {"retry-after": exc.retry_after} if exc.retry_after else None
    return JSONResponse(_upstream_error_body(exc), status_code=exc.status, headers=headers)
