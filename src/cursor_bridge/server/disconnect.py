"""Noticing that the client went away, with one watcher per request.

A client that disconnects must cancel the upstream Run at once, whether it leaves while the
turn starts, while a body is collected or mid-stream. `serve_until_disconnect()` runs a
request's whole answer in the request's own task and cancels it when the client goes: one
watcher task per request, no task group per response and no task per awaited step. It marks
the scope as watched, so the steps inside (`turns.until_disconnect`, the event-stream
response) await their work directly instead of starting watchers of their own.

Under `serve` the connection itself says when the client leaves: its protocol puts a hook
in the scope (`DISCONNECT_HOOK`, http_cycle.py) and no watcher task is needed at all; any
other server gets the watcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine

from starlette.types import Receive, Scope

WATCHED = "cursor_bridge.disconnect_watched"
# `scope[DISCONNECT_HOOK](callback)`: the server calls *callback* if the client leaves
# (`(None)`: no longer).
DISCONNECT_HOOK = "cursor_bridge.disconnect_hook"


async def wait_disconnect(receive: Receive) -> None:
    """Return once *receive* reports `http.disconnect` (any request body already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def is_watched(scope: Scope) -> bool:
    return WATCHED in scope


Hook = Callable[[Callable[[], None] | None], None]


def serve_until_disconnect(
    scope: Scope, receive: Receive, answer: Callable[[], Awaitable[None]]
) -> Coroutine[object, object, bool]:
    """Run `answer()`, cancelled if the client disconnects first; False when it did.

    The task's cancel count is restored after a cancellation of ours, and a cancellation
    from elsewhere (server shutdown) still propagates."""
    hook: Hook | None = scope.get(DISCONNECT_HOOK)
    if hook is not None:
        return _serve_hooked(scope, hook, answer)
    return _serve_watched(scope, receive, answer)


async def _serve_watched(
    scope: Scope, receive: Receive, answer: Callable[[], Awaitable[None]]
) -> bool:
    """With a watcher task that waits for `http.disconnect`; the cancellation is an
    `asyncio.timeout` expiring early."""
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


async def _serve_hooked(scope: Scope, hook: Hook, answer: Callable[[], Awaitable[None]]) -> bool:
    """`serve_until_disconnect` told by the server's hook: the task is cancelled directly
    (what an expiring `asyncio.timeout` does, without its timer, watcher task and loop
    lookups)."""
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    answering = True
    gone = False

    def client_gone() -> None:
        nonlocal gone
        if answering and not gone:
            gone = True
            task.cancel()

    hook(client_gone)
    scope[WATCHED] = True
    try:
        await answer()
    except asyncio.CancelledError:
        if gone and task.uncancel() <= cancelling:
            return False
        raise
    except BaseException:
        if gone:
            task.uncancel()
        raise
    finally:
        answering = False
        hook(None)
    if gone:  # the answer swallowed our cancellation: still ours to take back
        task.uncancel()
    return True
