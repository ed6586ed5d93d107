"""`POST /cursor/chat/completions`: Cursor IDE's BYOK chat stream over a selectable upstream.

The body is a chat-completions request; the answer is always Cursor's protobuf-JSON chat
stream (`dialects.cursor_chat`), served by the endpoint runner. The upstream is this
bridge's own Cursor backend (default) or, when `cursor_chat_upstream` is a base URL, any
OpenAI-compatible API, whose streamed chunks are read into the same output events
(`passthrough`), so one renderer serves both. Failures before the first output get a real
HTTP status and an OpenAI error body; later ones end the stream with an error event. A
client that goes away cancels the upstream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..dialects.cursor_chat import CursorChat, CursorChatRequest
from ..dialects.dialect import ErrorReport, Refused
from ..engine import ChatRequest, OutputEvent
from ..passthrough import OpenAIUpstream, UpstreamError, UpstreamStream
from .endpoint import Turn, engine_turn, run_dialect
from .turns import until_disconnect

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


async def cursor_chat_completions(request: Request) -> Response:
    upstream: OpenAIUpstream | None = getattr(request.app.state, "cursor_chat_upstream", None)
    if upstream is None:
        return await run_dialect(request, CursorChat(), engine_turn)

    async def start(request: Request, chat: ChatRequest, parsed: CursorChatRequest) -> Turn:
        return await _start_passthrough(request, upstream, parsed.body)

    return await run_dialect(request, CursorChat(), start)


class _PassthroughTurn:
    """An OpenAI-compatible upstream's stream as a turn; its failures become Refused."""

    input_tokens = 0

    def __init__(self, stream: UpstreamStream) -> None:
        self.stream = stream

    async def batches(self) -> AsyncIterator[list[OutputEvent]]:
        try:
            async for batch in self.stream.batches():
                yield batch
        except UpstreamError as exc:
            log.warning("upstream failed mid-stream: %s", exc.message)
            raise Refused(_report(exc)) from exc

    async def aclose(self) -> None:
        await self.stream.aclose()


async def _start_passthrough(
    request: Request, upstream: OpenAIUpstream, body: dict[str, Any]
) -> Turn:
    try:
        stream = await until_disconnect(request, upstream.open(body))
        try:
            await until_disconnect(request, stream.prefetch())
        except BaseException:
            await stream.aclose()
            raise
    except UpstreamError as exc:
        raise Refused(_report(exc)) from exc
    return _PassthroughTurn(stream)


def _report(exc: UpstreamError) -> ErrorReport:
    code = exc.code if exc.code and not exc.code.isdigit() else "upstream_error"
    headers = {"retry-after": exc.retry_after} if exc.retry_after else {}
    error_type = _ERROR_TYPES.get(exc.status, "api_error")
    return ErrorReport(exc.status, exc.message, code, error_type=error_type, headers=headers)
