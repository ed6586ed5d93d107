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
        first = await _until_disconnect(request, _first_event(events))
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


async def _first_event(events: AsyncIterator[ev.Event]) -> ev.Event | None:
    """Wait for the first model output, so early failures get a real HTTP status."""
    try:
        async for event in events:
            if isinstance(event, ev.TextDelta | ev.ThinkingDelta | ev.TurnEnded):
                return event
    except BaseException:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
        raise
    return None


async def _stream(
    events: AsyncIterator[ev.Event], first: ev.Event | None, model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    completion_id = dialect.new_completion_id()
    created = int(time.time())
    try:
        yield dialect.sse(
            dialect.chunk(completion_id, model, created, {"role": "assistant", "content": ""})
        )
        usage = ev.Usage()
        async for event in _prepend(first, events):
            if isinstance(event, ev.TextDelta):
                delta = {"content": event.text}
                yield dialect.sse(dialect.chunk(completion_id, model, created, delta))
            elif isinstance(event, ev.ThinkingDelta):
                delta = {"reasoning_content": event.text}
                yield dialect.sse(dialect.chunk(completion_id, model, created, delta))
            elif isinstance(event, ev.TurnEnded):
                usage = event.usage
        yield dialect.sse(dialect.chunk(completion_id, model, created, {}, "stop"))
        if include_usage:
            yield dialect.sse(dialect.usage_chunk(completion_id, model, created, usage))
        yield dialect.sse("[DONE]")
    except ConnectError as exc:
        _, body, _ = backend_error(exc)
        yield dialect.sse(body)
    finally:
        # Runs on client disconnect too (the response task is cancelled): cancel upstream.
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]


async def _collect(
    events: AsyncIterator[ev.Event], first: ev.Event | None, model: str
) -> JSONResponse:
    text: list[str] = []
    reasoning: list[str] = []
    usage = ev.Usage()
    try:
        async for event in _prepend(first, events):
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
    first: ev.Event | None, rest: AsyncIterator[ev.Event]
) -> AsyncIterator[ev.Event]:
    if first is not None:
        yield first
    async for event in rest:
        yield event


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
