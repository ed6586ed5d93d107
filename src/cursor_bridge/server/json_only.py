"""Request bodies must be declared JSON (`Content-Type: application/json`), else 415.

Browsers send `text/plain`, `application/x-www-form-urlencoded` and `multipart/form-data`
cross-origin without a CORS preflight, so a page could otherwise POST a JSON-looking body
that the bridge would act on. Every client of the bridge sends `application/json`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import dialect_error

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json"


class JsonBodiesOnly:
    """Pure ASGI middleware: 415 for body-carrying requests not declared JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if is_json(content_type):
            await self.app(scope, receive, send)
            return
        shown = content_type.decode("latin-1") or "none"
        message = f"Request bodies must be application/json (got {shown})."
        await dialect_error(scope, 415, message, "unsupported_media_type")(scope, receive, send)
