"""`POST /v1/chat/completions`: OpenAI chat completions over the engine, streamed or whole."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..dialects import openai_chat as dialect
from ..engine.backend import CursorBackend
from ..engine.errors import InvalidChatRequest, ModelNotFound
from ..protocol import events as ev
from ..protocol.errors import ConnectError
from .errors import backend_error, backend_error_response, error_response

log = logging.getLogger(__name__)
T = TypeVar("T")


async def chat_completions(request: Request) -> Response:
    backend: CursorBackend = request.app.state.backend
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error_response(400, "The request body is not valid JSON.", "invalid_request_error")
    try:
        chat = dialect.parse_request(body)
        choice = await backend.resolve(chat)
        events = backend.stream_turn(chat, choice)
        first = await _until_disconnect(request, _first_batch(events))
    except dialect.InvalidRequest as exc:
        return error_response(400, exc.message, "invalid_request_error", param=exc.param)
    except InvalidChatRequest as exc:
        return error_response(400, str(exc), "invalid_request_error")
    except ModelNotFound as exc:
        return error_response(404, str(exc), "invalid_request_error", "model_not_found", "model")
    except ConnectError as exc:
        return backend_error_response(exc)
    if chat.stream:
        return StreamingResponse(
            _stream(events, first, chat.model, chat.include_usage),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    try:
        return await _until_disconnect(request, _collect(events, first, chat.model))
    except ConnectError as exc:
        return backend_error_response(exc)


async def _first_batch(events: AsyncIterator[list[ev.Event]]) -> list[ev.Event]:
    """Wait for the first model output, so early failures get a real HTTP status."""
    try:
        async for batch in events:
            if any(isinstance(e, ev.TextDelta | ev.ThinkingDelta | ev.TurnEnded) for e in batch):
                return batch
    except BaseException:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
        raise
    return []


async def _stream(
    events: AsyncIterator[list[ev.Event]], first: list[ev.Event], model: str, include_usage: bool
) -> AsyncIterator[str]:
    writer = dialect.ChunkWriter(dialect.new_completion_id(), model, int(time.time()))
    usage = ev.Usage()
    try:
        yield writer.role()
        async for batch in _prepend(first, events):
            out: list[str] = []
            for event in batch:
                if isinstance(event, ev.TextDelta):
                    out.append(writer.delta("content", event.text))
                elif isinstance(event, ev.ThinkingDelta):
                    out.append(writer.delta("reasoning_content", event.text))
                elif isinstance(event, ev.TurnEnded):
                    usage = event.usage
            if out:
                yield "".join(out)
        tail = writer.finish("stop")
        if include_usage:
            tail += writer.usage(usage)
        yield tail + dialect.sse_text("[DONE]")
    except ConnectError as exc:
        _, body, _ = backend_error(exc)
        yield dialect.sse_text(body)
    finally:
        # Runs on client disconnect too (the response task is cancelled): cancel upstream.
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]


async def _collect(
    events: AsyncIterator[list[ev.Event]], first: list[ev.Event], model: str
) -> JSONResponse:
    text: list[str] = []
    reasoning: list[str] = []
    usage = ev.Usage()
    try:
        async for batch in _prepend(first, events):
            for event in batch:
                if isinstance(event, ev.TextDelta):
                    text.append(event.text)
                elif isinstance(event, ev.ThinkingDelta):
                    reasoning.append(event.text)
                elif isinstance(event, ev.TurnEnded):
                    usage = event.usage
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
    body = dialect.completion(
        dialect.new_completion_id(), model, "".join(text), "".join(reasoning), usage
    )
    return JSONResponse(body)


async def _prepend(
    first: list[ev.Event], rest: AsyncIterator[list[ev.Event]]
) -> AsyncIterator[list[ev.Event]]:
    if first:
        yield first
    async for batch in rest:
        yield batch


async def _until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run *work*, cancelling it if the client disconnects first (non-streaming requests)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_disconnect(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    if task.cancelled():
        raise asyncio.CancelledError
    return task.result()


async def _wait_disconnect(request: Request) -> None:
    while True:
        message: Any = await request.receive()
        if message["type"] == "http.disconnect":
            return
