"""A `text/event-stream` answer written straight to the connection.

Starlette's StreamingResponse runs each response in a task group of two tasks (the body
and a disconnect listener) and pulls every chunk through an async iterator. Here the
producer writes its events itself, in the request's task, and hands back the last text,
which goes out with the end of the body in one write. Each write is one ASGI send, with no
coroutine of its own, and past a send wrapper that only stamps the response's start (its
`body_send`, see gate.py); under `serve`, when that send is the server's own, a write the
server would make at once is made directly (DIRECT_BODY: no message, no await). A client
that leaves cancels the producer: through the request's one disconnect watcher
(disconnect.py), or one started here when nothing watches the request yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .disconnect import is_watched, serve_until_disconnect

# `scope[HOLD_HEAD]()`: the server writes the response's head with its first body bytes
# (`serve`'s protocol, http_cycle.py), for a start whose body follows at once.
HOLD_HEAD = "cursor_bridge.hold_head"

# `scope[DIRECT_BODY](send)`: for the server's own *send*, a BodyWriter that writes a body
# chunk of the started response as that send would (True), or does nothing (False: the
# chunk must go through send, e.g. while writes to the client are paused); None for any
# other send (http_cycle.py).
DIRECT_BODY = "cursor_bridge.direct_body"
BodyWriter = Callable[[bytes, bool], bool]

Write = Callable[[str], Awaitable[None]]
# Writes the events with `write` and returns the last text (sent as the body's end).
Producer = Callable[[Write], Awaitable[str]]


# The encoded headers of the header sets streams were made with (a route's are always the
# same): encoded once, copied per response.
_RAW_HEADERS: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}
_KEPT_HEADER_SETS = 64


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        produce: Producer,
        headers: Mapping[str, str] | None = None,
        *,
        writes_at_once: bool = False,
        own_headers: Mapping[str, str] | None = None,
    ) -> None:
        """`writes_at_once`: *produce* writes (or returns) its first text without waiting
        for anything first (its first output is in hand), so the response's head may wait
        for it and go out in the same write (HOLD_HEAD). `own_headers`: this response's
        own, over *headers* (e.g. a request id): such a set is encoded for this response
        only, never kept (it would not come again, and would take a kept set's place)."""
        self.status_code = 200
        self.background = None
        self.produce = produce
        self.writes_at_once = writes_at_once
        if own_headers:
            self.init_headers({**headers, **own_headers} if headers else own_headers)
            return
        key = tuple(headers.items()) if headers else ()
        raw = _RAW_HEADERS.get(key)
        if raw is None:
            self.init_headers(headers)
            if len(_RAW_HEADERS) < _KEPT_HEADER_SETS:
                _RAW_HEADERS[key] = list(self.raw_headers)
        else:
            self.raw_headers = list(raw)  # a copy: a middleware may change it in place

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, Any]:
        # A plain function returning what to await: one coroutine fewer per answer.
        if is_watched(scope):
            return self._write_all(scope, send)
        return serve_until_disconnect(scope, receive, lambda: self._write_all(scope, send))

    async def _write_all(self, scope: Scope, send: Send) -> None:
        if self.writes_at_once:
            hold_head: Callable[[], None] | None = scope.get(HOLD_HEAD)
            if hold_head is not None:
                hold_head()
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        # Past the start, a send that only stamps the start (the gate's) is skipped.
        body_send: Send = getattr(send, "body_send", send)
        direct_of: Callable[[Send], BodyWriter | None] | None = scope.get(DIRECT_BODY)
        direct = direct_of(body_send) if direct_of is not None else None
        if direct is None:

            def write(text: str) -> Awaitable[None]:
                return body_send(
                    {"type": "http.response.body", "body": text.encode(), "more_body": True}
                )

        else:
            written = asyncio.get_running_loop().create_future()
            written.set_result(None)

            def write(text: str) -> Awaitable[None]:
                body = text.encode()
                if direct(body, True):
                    return written  # done: awaiting it does not suspend
                return body_send({"type": "http.response.body", "body": body, "more_body": True})

        last = (await self.produce(write)).encode()
        if direct is None or not direct(last, False):
            await body_send({"type": "http.response.body", "body": last, "more_body": False})
