"""Between the workers of `serve --workers N`: send a tool follow-up to the process that
holds its Run.

The kernel hands each new connection to any worker, so a follow-up carrying tool results
usually lands on a process that does not hold the parked Run. Each worker therefore also
listens on a private loopback port, registered in Redis under its instance name. A request
whose body names another instance in its latest tool-call id (`call_<instance>_...`, see
SessionRegistry.new_call_id) is passed through to that worker unchanged (method, path,
headers, body) and its response streamed back; the caller cannot tell. A forwarded request
is never forwarded again, and one whose owner is gone or unreachable is served here (the
fresh-Run path). A client that goes away cancels the forwarded request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .request_log import MODEL_DIALECTS, dialect_of

log = logging.getLogger(__name__)

FORWARDED_HEADER = b"x-cursor-bridge-forwarded"
_OWNER = re.compile(rb"call_([A-Za-z0-9]{1,32})_")
_HOP_BY_HOP = {b"host", b"content-length", b"connection", b"transfer-encoding", b"keep-alive"}

# instance name -> private port of that worker (None: unknown or gone)
WorkerLookup = Callable[[str], Awaitable[int | None]]


def owner_in(body: bytes) -> str | None:
    """The instance named by the last call id in *body* (the newest tool round)."""
    found = _OWNER.findall(body)
    return found[-1].decode() if found else None


class FollowUpForwarder:
    """See module doc. `instance`: this worker's name. The gate calls `forwarded()` with the
    body it read; as ASGI middleware (`app` given), it reads the body itself."""

    def __init__(self, app: ASGIApp | None = None, *, instance: str, lookup: WorkerLookup) -> None:
        self.app = app
        self.instance = instance
        self.lookup = lookup
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=2.0))
        self.forwarded_count = 0

    def applies(self, scope: Scope) -> bool:
        """A model POST not forwarded already."""
        return (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and dialect_of(scope.get("path", "")) in MODEL_DIALECTS
            and FORWARDED_HEADER not in dict(scope.get("headers", []))
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "as middleware, the forwarder needs the app"
        if not self.applies(scope):
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if more or not await self.forwarded(scope, body, receive, send):
            await self.app(scope, replay(body, more, receive), send)

    async def forwarded(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> bool:
        """Answer from the worker that holds the Run *body* continues; False when that is
        this worker, or none is known or reachable (nothing was sent then)."""
        owner = owner_in(body)
        port = await self.lookup(owner) if owner and owner != self.instance else None
        return port is not None and await self._forward(scope, body, port, receive, send)

    async def _forward(
        self, scope: Scope, body: bytes, port: int, receive: Receive, send: Send
    ) -> bool:
        """Pass the request to the worker on *port*; False when it could not be reached
        (nothing was sent to the client yet)."""
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in _HOP_BY_HOP]
        headers.append((FORWARDED_HEADER, self.instance.encode()))
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"http://127.0.0.1:{port}{scope.get('path', '')}" + (f"?{query}" if query else "")
        request = self.client.build_request("POST", url, headers=headers, content=body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            log.info("worker on port %d unreachable (%s); serving here", port, exc)
            return False
        self.forwarded_count += 1
        watcher = asyncio.ensure_future(_disconnected(receive))
        try:
            reply = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": reply})  # fmt: skip
            async for chunk in response.aiter_raw():
                if watcher.done():
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError as exc:
            log.warning("forwarded response from port %d broke off: %s", port, exc)
        finally:
            watcher.cancel()
            await response.aclose()
        return True

    async def aclose(self) -> None:
        await self.client.aclose()


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """Up to 8 MiB of the body (tool follow-ups are smaller); True when more remains."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), False
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), False
        if size > 8 * 1024 * 1024:
            return b"".join(parts), True


def replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A receive that hands out the bytes already read, then the rest from *receive*."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


async def _disconnected(receive: Receive) -> None:
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
