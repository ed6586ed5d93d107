"""Client authentication: once any client key exists, every request must present one.

Keys are read from `Authorization: Bearer KEY` (OpenAI SDKs, OpenCode, Codex, LiteLLM,
Cursor IDE) or `x-api-key: KEY` (Anthropic SDKs, Claude Code), so clients work unchanged
with their usual API-key setting. A refusal is a 401 in the caller's dialect. `/health`
stays open (load balancers and `curl` checks carry no key); `/metrics` is protected.
"""

from __future__ import annotations

import logging

from starlette.types import Scope

from .client_keys import ClientKeyFileError, ClientKeys, matches
from .errors import Refusal

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
    """401 unless a presented key matches (when keys are required); the matching key goes
    in the request's state (`client_key`)."""

    def __init__(self, keys: ClientKeys, open_paths: frozenset[str] = OPEN_PATHS) -> None:
        self.keys = keys
        self.open_paths = open_paths

    def refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> Refusal | None:
        if scope.get("path", "") in self.open_paths:
            return None
        try:
            keys = self.keys.keys()  # one look at the file per request, as check() takes
        except ClientKeyFileError as exc:
            log.error("refusing requests: %s", exc)
            message = "The bridge's client key file is unreadable; see the bridge's log."
            return Refusal(503, message, "client_keys_unreadable")
        if not keys:
            return None  # no key exists: none is required (the headers need no reading)
        presented = presented_keys(headers)
        matched = matches(presented, keys)
        if not matched:
            message = (
                "Invalid API key for this cursor-bridge."
                if presented
                else "This cursor-bridge needs an API key: send `Authorization: Bearer KEY` or"
                " `x-api-key: KEY` (create one with `cursor-bridge keys create`)."
            )
            return Refusal(401, message, "invalid_api_key", {"www-authenticate": "Bearer"})
        scope.setdefault("state", {})["client_key"] = matched[0]
        return None
