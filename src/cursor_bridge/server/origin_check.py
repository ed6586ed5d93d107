"""Browser pages from other sites may not use the bridge, unless the user allows them.

Browsers mark cross-site requests: `Origin` on every POST and on CORS reads,
`Sec-Fetch-Site` (cross-site / same-site) on every request, `<img>` and `<script>` loads
included. SDKs and CLIs send neither. A request from an origin that is not in the
configured list (`--cors-origin`) and not the bridge itself is refused with 403 in the
caller's dialect before anything runs, so a simple (preflight-free) request cannot act.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import dialect_error


class OriginCheck:
    """Pure ASGI middleware: refuse foreign `Origin`s and cross-site fetches."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1").strip().rstrip("/").lower()
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        own = {f"{scope.get('scheme', 'http')}://{host}"} if host else set()
        if origin:
            refused = origin not in self.allowed and origin not in own
        else:  # no-cors loads (`<img>`, `<script>`) carry no Origin, only Sec-Fetch-Site
            refused = site in ("cross-site", "same-site")
        if not refused:
            await self.app(scope, receive, send)
            return
        message = (
            f"Requests from the web page at {origin or 'another site'} are refused. To let a "
            "page use this bridge, allow its origin with --cors-origin ORIGIN "
            "(CURSOR_BRIDGE_CORS_ORIGINS)."
        )
        await dialect_error(scope, 403, message, "origin_not_allowed")(scope, receive, send)
