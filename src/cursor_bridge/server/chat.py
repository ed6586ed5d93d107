"""`POST /v1/chat/completions`: OpenAI chat completions over the engine, streamed or whole."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..dialects import openai_chat as dialect
from ..engine.backend import CursorBackend
from ..engine.errors import InvalidChatRequest, ModelNotFound
from ..engine.output import (
    SSE_KEEP_ALIVE,
    KeepAlive,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    TurnFinished,
    Usage,
)
from ..protocol.errors import ConnectError
from .errors import backend_error, backend_error_response, error_response
from .json_body import InvalidBody, parse_off_loop
from .turns import Turn, start_turn, until_disconnect


async def chat_completions(request: Request) -> Response:
    backend: CursorBackend = request.app.state.backend
    try:
        chat = await parse_off_loop(request, dialect.parse_request)
        turn = await start_turn(request, backend, chat)
    except InvalidBody as exc:
        return error_response(400, exc.message, "invalid_request_error")
    except dialect.InvalidRequest as exc:
        return error_response(400, exc.message, "invalid_request_error", param=exc.param)
    except InvalidChatRequest as exc:
        return error_response(400, str(exc), "invalid_request_error", param=exc.param)
    except ModelNotFound as exc:
        return error_response(404, str(exc), "invalid_request_error", "model_not_found", "model")
    except ConnectError as exc:
        return backend_error_response(exc)
    if chat.stream:
        return StreamingResponse(
            _stream(turn, chat.model, chat.include_usage),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    try:
        return await until_disconnect(request, _collect(turn, chat.model))
    except ConnectError as exc:
        return backend_error_response(exc)


async def _stream(turn: Turn, model: str, include_usage: bool) -> AsyncIterator[str]:
    writer = dialect.ChunkWriter(dialect.new_completion_id(), model, int(time.time()))
    finished = TurnFinished("stop", Usage())
    try:
        role = writer.role()  # sent with the first batch: one write for the first token
        async for batch in turn.batches():
            out: list[str] = [role] if role else []
            role = ""
            for event in batch:
                if isinstance(event, TextDelta):
                    out.append(writer.delta("content", event.text))
                elif isinstance(event, ThinkingDelta):
                    out.append(writer.delta("reasoning_content", event.text))
                elif isinstance(event, ToolCall):
                    out.append(writer.tool_call(event))
                elif isinstance(event, TurnFinished):
                    finished = event
                elif isinstance(event, KeepAlive):
                    out.append(SSE_KEEP_ALIVE)
            if out:
                yield "".join(out)
        tail = role + writer.finish(finished.reason)
        if include_usage:
            tail += writer.usage(finished.usage)
        yield tail + dialect.sse_text("[DONE]")
    except ConnectError as exc:
        _, body, _ = backend_error(exc)
        yield dialect.sse_text(body)
    finally:
        # Runs on client disconnect too (the response task is cancelled): cancel upstream.
        await turn.aclose()


async def _collect(turn: Turn, model: str) -> JSONResponse:
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    finished = TurnFinished("stop", Usage())
    try:
        async for batch in turn.batches():
            for event in batch:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, ThinkingDelta):
                    reasoning.append(event.text)
                elif isinstance(event, ToolCall):
                    calls.append(event)
                elif isinstance(event, TurnFinished):
                    finished = event
    finally:
        await turn.aclose()
    body = dialect.completion(
        dialect.new_completion_id(),
        model,
        "".join(text),
        "".join(reasoning),
        finished.usage,
        finished.reason,
        calls,
    )
    return JSONResponse(body)
