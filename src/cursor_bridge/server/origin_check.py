"""Browser pages from other sites may not use the bridge, unless the user allows them.

Browsers mark cross-site requests: `Origin` on every POST and on CORS reads,
`Sec-Fetch-Site` (cross-site / same-site) on every request, `<img>` and `<script>` loads
included. SDKs and CLIs send neither. A request from an origin that is not in the
configured list (`--cors-origin`) and not the bridge itself is refused with 403 in the
caller's dialect before anything runs, so a simple (preflight-free) request cannot act.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Scope

from .errors import Refusal


class OriginCheck:
    """Refuses foreign `Origin`s and cross-site fetches."""

    def __init__(self, allowed_origins: Iterable[str] = ()) -> None:
        self.allowed = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    def refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> Refusal | None:
        raw = headers.get(b"origin")
        if raw is None and b"sec-fetch-site" not in headers:
            return None  # neither mark of a browser: SDKs and CLIs (what the rest finds too)
        origin = (raw or b"").decode("latin-1").strip().rstrip("/").lower()
        if origin:
            if origin in self.allowed:
                return None
            host = headers.get(b"host", b"").decode("latin-1").strip().lower()
            if host and origin == f"{scope.get('scheme', 'http')}://{host}":
                return None
        else:  # no-cors loads (`<img>`, `<script>`) carry no Origin, only Sec-Fetch-Site
            site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
            if site not in ("cross-site", "same-site"):
                return None
        message = (
            f"Requests from the web page at {origin or 'another site'} are refused. To let a "
            "page use this bridge, allow its origin with --cors-origin ORIGIN "
            "(CURSOR_BRIDGE_CORS_ORIGINS)."
        )
        return Refusal(403, message, "origin_not_allowed")
