"""Cursor's account endpoints as facts: paths, PKCE values, the poll schedule, token bodies.

Shared by the bridge's `auth` package and the emulator (exec-auth-models.md §2). Pure: the
random bytes and ids are made by the caller or by the two small helpers that say so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

# Cursor's API host, the website that shows the login page, and the paths on them.
CURSOR_API_URL = "https://api2.cursor.sh"
CURSOR_WEBSITE_URL = "https://cursor.com"
LOGIN_PAGE_PATH = "/loginDeepControl"
POLL_PATH = "/auth/poll"
EXCHANGE_API_KEY_PATH = "/auth/exchange_user_api_key"
REFRESH_PATH = "/auth/refresh"
TOKEN_PATH = "/auth/token"

# Poll schedule of the CLI: delay min(1 s * 1.2^attempt, 10 s), 150 attempts (~5 min);
# HTTP 404 = not approved yet; 3 consecutive other failures end the login.
POLL_BASE_DELAY = 1.0
POLL_GROWTH = 1.2
POLL_MAX_DELAY = 10.0
POLL_MAX_ATTEMPTS = 150
POLL_MAX_ERRORS = 3

# User API keys start with this; the CLI exchanges them for a token pair.
API_KEY_PREFIX = "crsr_"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_verifier() -> str:
    """A PKCE verifier: 32 random bytes, base64url without padding (43 characters)."""
    return _b64url(secrets.token_bytes(32))


def challenge_for(verifier: str) -> str:
    """The PKCE challenge: base64url(SHA-256(verifier as UTF-8)) without padding."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def login_url(website_url: str, challenge: str, login_id: str) -> str:
    """The page the user opens to approve this login (`uuid` names the login attempt)."""
    query = urlencode(
        {"challenge": challenge, "uuid": login_id, "mode": "login", "redirectTarget": "cli"}
    )
    return f"{website_url.rstrip('/')}{LOGIN_PAGE_PATH}?{query}"


def poll_query(login_id: str, verifier: str) -> str:
    return urlencode({"uuid": login_id, "verifier": verifier})


def poll_delay(attempt: int) -> float:
    """Seconds to wait before poll number *attempt* (0-based)."""
    return float(min(POLL_BASE_DELAY * POLL_GROWTH**attempt, POLL_MAX_DELAY))


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What the login, API-key exchange and refresh calls return. `refresh_token` may be
    empty when a refresh response omitted it (the caller keeps its old one then)."""

    access_token: str
    refresh_token: str = ""


def token_pair_body(pair: TokenPair) -> bytes:
    body = {"accessToken": pair.access_token, "refreshToken": pair.refresh_token}
    return json.dumps(body).encode()


def parse_token_pair(body: bytes, *, require_refresh: bool = True) -> TokenPair:
    """Read `{"accessToken", "refreshToken"}` (extra fields ignored); ValueError if unusable."""
    try:
        parsed: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("the response is not JSON") from exc
    if not isinstance(parsed, dict):
        raise ValueError("the response is not a JSON object")
    access = parsed.get("accessToken")
    refresh = parsed.get("refreshToken") or ""
    if not isinstance(access, str) or not access:
        raise ValueError("the response has no accessToken")
    if not isinstance(refresh, str) or (require_refresh and not refresh):
        raise ValueError("the response has no refreshToken")
    return TokenPair(access, refresh)
