"""Client authentication: once any client key exists, every request must present one.

Keys are read from `Authorization: Bearer KEY` (OpenAI SDKs, OpenCode, Codex, LiteLLM,
Cursor IDE) or `x-api-key: KEY` (Anthropic SDKs, Claude Code), so clients work unchanged
with their usual API-key setting. A refusal is a 401 in the caller's dialect. `/health`
stays open (load balancers and `curl` checks carry no key); `/metrics` is protected.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from .client_keys import ClientKeyFileError, ClientKeys
from .errors import dialect_error

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})


def presented_keys(headers: dict[bytes, bytes]) -> list[str]:
    """The keys a request carries, from either header."""
    found: list[str] = []
    authorization = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        found.append(value.strip())
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    if api_key:
        found.append(api_key)
    return found


class ClientAuth:
    """Pure ASGI middleware: 401 unless a presented key matches (when keys are required)."""

    def __init__(
        self, app: ASGIApp, keys: ClientKeys, open_paths: frozenset[str] = OPEN_PATHS
    ) -> None:
        self.app = app
        self.keys = keys
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.open_paths:
            await self.app(scope, receive, send)
            return
        try:
            presented = presented_keys(dict(scope.get("headers", [])))
            required, matched = self.keys.check(presented)
        except ClientKeyFileError as exc:
            log.error("refusing requests: %s", exc)
            message = "The bridge's client key file is unreadable; see the bridge's log."
            await dialect_error(scope, 503, message, "client_keys_unreadable")(scope, receive, send)
            return
        if not required:
            await self.app(scope, receive, send)
            return
        if not matched:
            message = (
                "Invalid API key for this cursor-bridge."
                if presented
                else "This cursor-bridge needs an API key: send `Authorization: Bearer KEY` or"
                " `x-api-key: KEY` (create one with `cursor-bridge keys create`)."
            )
            response = dialect_error(
                scope, 401, message, "invalid_api_key", {"www-authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["client_key"] = matched[0]
        await self.app(scope, receive, send)
