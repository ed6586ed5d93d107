"""A `text/event-stream` answer written straight to the connection.

Starlette's StreamingResponse runs each response in a task group of two tasks (the body
and a disconnect listener) and pulls every chunk through an async iterator. Here the
producer writes its events itself, in the request's task, and hands back the last text,
which goes out with the end of the body in one write. Each write is one ASGI send, with no
coroutine of its own, and past a send wrapper that only stamps the response's start (its
`body_send`, see gate.py). A client that leaves cancels the producer: through the
request's one disconnect watcher (disconnect.py), or one started here when nothing
watches the request yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .disconnect import is_watched, serve_until_disconnect

Write = Callable[[str], Awaitable[None]]
# Writes the events with `write` and returns the last text (sent as the body's end).
Producer = Callable[[Write], Awaitable[str]]


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(self, produce: Producer, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = 200
        self.background = None
        self.produce = produce
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_watched(scope):
            await self._write_all(send)
        else:
            await serve_until_disconnect(scope, receive, lambda: self._write_all(send))

    async def _write_all(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        # Past the start, a send that only stamps the start (the gate's) is skipped.
        body_send: Send = getattr(send, "body_send", send)

        def write(text: str) -> Awaitable[None]:
            return body_send(
                {"type": "http.response.body", "body": text.encode(), "more_body": True}
            )

        last = await self.produce(write)
        await body_send({"type": "http.response.body", "body": last.encode(), "more_body": False})
