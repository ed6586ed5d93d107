"""Request body limits, enforced while the body streams in (pure ASGI middleware).

Size: a body is turned into one Run request frame for the backend, so nothing larger than
the frame limit can succeed; it is refused (413) from `Content-Length` before a byte is
held, or as soon as a chunked body passes it. Time: a client that trickles its body is cut
off (408) once `read_timeout` seconds pass before the body is complete, so slow clients
cannot hold connections and memory open. Both answer in the caller's dialect.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine import MAX_REQUEST_SIZE
from .errors import dialect_error

# The largest body that can still fit the Run request frame the backend accepts.
DEFAULT_MAX_BODY = MAX_REQUEST_SIZE
DEFAULT_BODY_READ_TIMEOUT = 60.0


class BodySizeLimit:
    """413 once a body passes `max_body_size`; 408 when it is not complete within
    `read_timeout` seconds of the request's start."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_size: int = DEFAULT_MAX_BODY,
        read_timeout: float = DEFAULT_BODY_READ_TIMEOUT,
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await self._too_large(scope, receive, send)
            return
        received = 0
        body_done = False
        deadline = time.monotonic() + self.read_timeout

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # later receives wait for a disconnect: no deadline on those
                return await receive()
            try:
                async with asyncio.timeout_at(_loop_time(deadline)):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_body_size:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            # Handlers read the whole body before answering, so nothing was sent yet.
            await self._too_large(scope, receive, send)
        except _TooSlow:
            message = f"The request body did not arrive within {self.read_timeout:g} seconds."
            await dialect_error(scope, 408, message, "request_timeout", {"connection": "close"})(
                scope, receive, send
            )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"Request body larger than {self.max_body_size} bytes."
        await dialect_error(scope, 413, message, "request_too_large")(scope, receive, send)


def _loop_time(monotonic_deadline: float) -> float:
    """A time.monotonic() deadline on the running loop's clock."""
    return asyncio.get_running_loop().time() + (monotonic_deadline - time.monotonic())


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass
