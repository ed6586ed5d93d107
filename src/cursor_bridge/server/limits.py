"""Request body limits, enforced while the body streams in.

Size: a body is turned into one Run request frame for the backend, so nothing larger than
the frame limit can succeed; it is refused (413) from `Content-Length` before a byte is
held, or as soon as a chunked body passes it. Time: a client that trickles its body is cut
off (408) once `read_timeout` seconds pass before the body is complete, so slow clients
cannot hold connections and memory open. Both answer in the caller's dialect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import Receive

from ..engine import MAX_REQUEST_SIZE
from .errors import Refusal

# The largest body that can still fit the Run request frame the backend accepts.
DEFAULT_MAX_BODY = MAX_REQUEST_SIZE
DEFAULT_BODY_READ_TIMEOUT = 60.0
# `scope[BODY_COMPLETE]()`: True once the server holds the whole body (receive() answers at
# once); `serve`'s protocol puts it there (http_cycle.py).
BODY_COMPLETE = "cursor_bridge.body_complete"


class BodyRefused(Exception):
    """The body broke a limit; `refusal` is the answer."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class ClientGone(Exception):
    """The client disconnected before its body was complete."""


class BodyLimits:
    """413 once a body passes `max_body_size`; 408 when it is not complete within
    `read_timeout` seconds of the request's start."""

    def __init__(
        self, max_body_size: int = DEFAULT_MAX_BODY, read_timeout: float = DEFAULT_BODY_READ_TIMEOUT
    ) -> None:
        self.max_body_size = max_body_size
        self.read_timeout = read_timeout

    def declared_refusal(self, headers: dict[bytes, bytes]) -> Refusal | None:
        """413 from the `Content-Length` alone, before a byte is read."""
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            return self._too_large()
        return None

    async def read(self, receive: Receive, complete: Callable[[], bool] | None = None) -> bytes:
        """The whole body, within the limits; raises BodyRefused, or ClientGone. When
        `complete()` says the server already holds all of it, no deadline is armed: the
        one receive() cannot wait."""
        parts: list[bytes] = []
        size = 0
        if complete is not None and complete():
            message = await receive()
            if message["type"] != "http.request":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            if len(chunk) > self.max_body_size:
                raise BodyRefused(self._too_large())
            if not message.get("more_body", False):
                return chunk
            parts.append(chunk)  # more after all: the rest under the deadline
            size = len(chunk)
        loop = asyncio.get_running_loop()
        try:
            # One deadline for the whole body (a receive that has the body does not wait).
            async with asyncio.timeout_at(loop.time() + self.read_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        raise ClientGone
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body_size:
                        raise BodyRefused(self._too_large())
                    parts.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            slow = f"The request body did not arrive within {self.read_timeout:g} seconds."
            raise BodyRefused(
                Refusal(408, slow, "request_timeout", {"connection": "close"})
            ) from None
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _too_large(self) -> Refusal:
        message = f"Request body larger than {self.max_body_size} bytes."
        return Refusal(413, message, "request_too_large")
