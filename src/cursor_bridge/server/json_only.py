"""Request bodies must be declared JSON (`Content-Type: application/json`), else 415.

Browsers send `text/plain`, `application/x-www-form-urlencoded` and `multipart/form-data`
cross-origin without a CORS preflight, so a page could otherwise POST a JSON-looking body
that the bridge would act on. Every client of the bridge sends `application/json`.
"""

from __future__ import annotations

from starlette.types import Scope

from .errors import Refusal

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: bytes) -> bool:
    if content_type == b"application/json":  # what nearly every client sends
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json"


def json_only_refusal(scope: Scope, headers: dict[bytes, bytes]) -> Refusal | None:
    """415 for body-carrying requests not declared JSON."""
    if scope.get("method") not in BODY_METHODS:
        return None
    content_type = headers.get(b"content-type", b"")
    if is_json(content_type):
        return None
    shown = content_type.decode("latin-1") or "none"
    message = f"Request bodies must be application/json (got {shown})."
    return Refusal(415, message, "unsupported_media_type")
