"""Starting an engine turn from an HTTP request: the part every dialect's route shares.

`start_turn()` waits for the first model output before the route answers, so failures that
happen early (unknown model, backend down, bad credentials) get a real HTTP status instead of
an error event inside a 200 stream. A client that disconnects while we wait cancels the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.types import Scope

from .. import access
from ..engine import (
    ChatRequest,
    HostedCall,
    InvalidChatRequest,
    OutputEvent,
    TurnFinished,
    TurnService,
    TurnStarted,
    hosted,
)
from .disconnect import is_watched, wait_disconnect

T = TypeVar("T")


class Turn:
    """A turn in progress: iterate its batches of OutputEvent; `aclose()` cancels it."""

    def __init__(self, events: AsyncIterator[list[OutputEvent]], first: list[OutputEvent]) -> None:
        self._events = events
        self._first = first
        self._input_tokens = 0
        for event in first:
            if isinstance(event, TurnStarted):
                self._input_tokens = event.input_tokens
                break

    @property
    def input_tokens(self) -> int:
        """The input tokens the engine knew before any output (see TurnStarted)."""
        return self._input_tokens

    def batches(self) -> AsyncIterator[list[OutputEvent]]:
        """The first batch (in hand), then the engine's. The turn is its own iterator: an
        async generator here would cost the loop's async-generator hooks (a WeakSet entry,
        a finalizer) on every turn."""
        return self

    def __aiter__(self) -> Turn:
        return self

    async def __anext__(self) -> list[OutputEvent]:
        first = self._first
        if first:
            self._first = []
            _note_usage(first)
            return first
        batch = await self._events.__anext__()
        _note_usage(batch)
        return batch

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._events.aclose()  # type: ignore[attr-defined]


def start_turn(request: Request, engine: TurnService, chat: ChatRequest) -> Awaitable[Turn]:
    """Resolve the model and start the turn; raises EngineError (ModelNotFound,
    InvalidChatRequest or a backend failure), which the route renders in its dialect: at
    once for a bad header, else when awaited. (A plain function: one coroutine fewer.)"""
    mode = hosted.parse_mode(first_header(request.scope, _HOSTED_HEADER))
    if mode is None:
        raise InvalidChatRequest(f"{hosted.HEADER} must be on, off or show", hosted.HEADER)
    if mode != chat.hosted_tools:
        chat = dataclasses.replace(chat, hosted_tools=mode)
    return until_disconnect(request, _start(engine, chat))


_HOSTED_HEADER = hosted.HEADER.encode("latin-1")


def first_header(scope: Scope, name: bytes) -> str | None:
    """The first value of header *name* (lower case), as `request.headers.get` gives it,
    without building the request's Headers."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def _start(engine: TurnService, chat: ChatRequest) -> Turn:
    access.note_requested_model(chat.model)  # logged even when the model is unknown
    choice = await engine.resolve(chat)
    access.note_cursor_model(choice.model_id)
    events = engine.stream_turn(chat, choice)
    first = await _first_batch(events)
    access.note_first_output()
    return Turn(events, first)


def _note_usage(batch: list[OutputEvent]) -> None:
    last = batch[-1]
    if isinstance(last, TurnFinished):
        access.note_usage(last.usage.input_tokens, last.usage.output_tokens)


_NOT_OUTPUT = (HostedCall, TurnStarted)


async def _first_batch(events: AsyncIterator[list[OutputEvent]]) -> list[OutputEvent]:
    held: list[OutputEvent] = []
    try:
        async for batch in events:
            # A report of a hosted call is not output (HTTP dialects show nothing for it), so
            # it is held with the lead (TurnStarted); a keep-alive is output: a hosted call is
            # working, and the client should hear so.
            for event in batch:
                if not isinstance(event, _NOT_OUTPUT):
                    return [*held, *batch]
            held.extend(batch)
    except BaseException:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
        raise
    return held


def until_disconnect(request: Request, work: Awaitable[T]) -> Awaitable[T]:
    """*work*, to await, cancelled if the client disconnects first. Under the request's own
    watcher (disconnect.py) that watcher cancels the whole answer, so *work* is returned
    as it is, to be awaited directly."""
    if is_watched(request.scope):
        return work
    return _until_disconnect(request, work)


async def _until_disconnect(request: Request, work: Awaitable[T]) -> T:
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_disconnect(request.receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    if task.cancelled():
        raise asyncio.CancelledError
    return task.result()
