"""Noticing that the client went away, with one watcher per request.

A client that disconnects must cancel the upstream Run at once, whether it leaves while the
turn starts, while a body is collected or mid-stream. `serve_until_disconnect()` runs a
request's whole answer in the request's own task and cancels it when the client goes: one
watcher task per request, no task group per response and no task per awaited step. It marks
the scope as watched, so the steps inside (`turns.until_disconnect`, the event-stream
response) await their work directly instead of starting watchers of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope

WATCHED = "cursor_bridge.disconnect_watched"


async def wait_disconnect(receive: Receive) -> None:
    """Return once *receive* reports `http.disconnect` (any request body already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def is_watched(scope: Scope) -> bool:
    return WATCHED in scope


async def serve_until_disconnect(
    scope: Scope, receive: Receive, answer: Callable[[], Awaitable[None]]
) -> bool:
    """Run `answer()`, cancelled if the client disconnects first; False when it did.

    The cancellation is an `asyncio.timeout` expiring early, so the task's cancel count is
    restored and a cancellation from elsewhere (server shutdown) still propagates."""
    loop = asyncio.get_running_loop()
    answering = True
    try:
        async with asyncio.timeout(None) as limit:

            def client_gone(watcher: asyncio.Future[None]) -> None:
                if answering and not watcher.cancelled() and watcher.exception() is None:
                    limit.reschedule(loop.time())

            watcher = asyncio.ensure_future(wait_disconnect(receive))
            watcher.add_done_callback(client_gone)
            scope[WATCHED] = True
            try:
                await answer()
            finally:
                answering = False
                watcher.cancel()
    except TimeoutError:
        if limit.expired():
            return False
        raise
    return True
