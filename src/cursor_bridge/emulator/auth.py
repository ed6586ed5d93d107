"""The emulator's account service: browser (PKCE) login, API keys, refresh, token checks.

Facts come from exec-auth-models.md §2. The spec leaves several points open; each choice made
here is written down as "Choice:" in the docstring of the function that makes it, so it can
be revised in one place when the real behaviour is known.

Tokens are HS256 JWTs signed with a per-instance secret: the bridge reads `exp` from them the
way it reads Cursor's tokens. A private claim `token_use` (`access` / `refresh`) tells the two
kinds apart; it is the emulator's own and nothing on the bridge side relies on it.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import jwt

from ..protocol.auth import (
    API_KEY_PREFIX,
    EXCHANGE_API_KEY_PATH,
    LOGIN_PAGE_PATH,
    POLL_PATH,
    REFRESH_PATH,
    TOKEN_PATH,
    TokenPair,
    challenge_for,
    token_pair_body,
)
from ..protocol.errors import ConnectError
from ..protocol.messages import aiserver
from .counters import EmulatorCounters
from .options import EmulatorOptions

# The three refresh calls peers make (spec §2.3), by the name EmulatorOptions uses.
REFRESH_ENDPOINTS: dict[str, str] = {
    EXCHANGE_API_KEY_PATH: "exchange_user_api_key",
    REFRESH_PATH: "refresh",
    TOKEN_PATH: "token",
}
AUTH_PATHS = frozenset({LOGIN_PAGE_PATH, POLL_PATH, *REFRESH_ENDPOINTS})
ISSUER = "https://authentication.cursor.sh"
AUDIENCE = "https://cursor.com"
ERROR_AUTH_TOKEN_NOT_FOUND = 11
ERROR_AUTH_TOKEN_EXPIRED = 12
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")

# (HTTP status, content type, body)
Response = tuple[int, str, bytes]


@dataclass(frozen=True, slots=True)
class EmulatedUser:
    user_id: str
    email: str


def auth_error_detail(error: int, title: str, detail: str) -> dict[str, Any]:
    """A Connect error detail carrying `aiserver.v1.ErrorDetails` (spec §4.3, inferred)."""
    message = aiserver.ErrorDetails(error=error)
    message.details.title = title
    message.details.detail = detail
    value = base64.b64encode(message.SerializeToString()).decode().rstrip("=")
    return {"type": "aiserver.v1.ErrorDetails", "value": value}


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """A rejected credential: the Connect error plus the typed detail to send with it."""

    error: ConnectError
    details: tuple[dict[str, Any], ...] = ()


class AuthService:
    """Login attempts, issued tokens and the emulator's clock (advance it to expire tokens)."""

    def __init__(self, options: EmulatorOptions, counters: EmulatorCounters) -> None:
        self.options = options
        self.counters = counters
        self.user = EmulatedUser(f"auth0|user_{options.account_id}", options.account_email)
        # Users by API key (EmulatorOptions.accounts) and every user by id.
        self._key_users = {
            a.api_key: EmulatedUser(f"auth0|user_{a.account_id}", a.email) for a in options.accounts
        }
        self.users = {u.user_id: u for u in (self.user, *self._key_users.values())}
        self._secret = options.token_secret or secrets.token_hex(32)
        self._clock_offset = 0.0
        # login id (`uuid`) -> (challenge, approved?)
        self._logins: dict[str, tuple[str, bool]] = {}

    # -- clock ------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward (tokens expire without waiting); returns now."""
        self._clock_offset += seconds
        return self.now()

    # -- tokens -----------------------------------------------------------------------

    def issue(self, user: EmulatedUser | None = None) -> TokenPair:
        """A fresh access/refresh pair for *user* (default: the emulated user)."""
        user = user or self.user
        return TokenPair(
            self._token("access", self.options.token_lifetime, user),
            self._token("refresh", self.options.refresh_token_lifetime, user),
        )

    def subject(self, authorization: str | None) -> str:
        """The user a request comes from: its token's `sub` if ours, else the default user."""
        token = _bearer(authorization)
        claims = self._claims(token) if token else None
        sub = claims.get("sub") if claims else None
        return sub if isinstance(sub, str) and sub in self.users else self.user.user_id

    def _token(self, use: str, lifetime: float, user: EmulatedUser) -> str:
        now = self.now()
        claims = {
            "sub": user.user_id,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "scope": "openid profile email offline_access",
            "iat": int(now),
            "exp": int(now + lifetime),
            "jti": uuid.uuid4().hex,
            "token_use": use,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def _claims(self, token: str) -> dict[str, Any] | None:
        """Our own token's claims (signature checked, expiry not), or None if not ours."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                # Times are checked against the emulator's own (movable) clock below.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError:
            return None
        return claims

    def check_access(self, authorization: str | None) -> AuthFailure | None:
        """Whether a backend RPC (Run or unary) may proceed with this `authorization` header.

        Auth is enforced when `require_auth` or `expected_token` is set; a token this emulator
        issued is always checked (so an expired one is refused even on an open emulator).
        Choice: the check is made once, when the request starts, as a stateless JWT check
        would; a Run that is already streaming is not cut when its token expires.
        """
        enforce = self.options.require_auth or self.options.expected_token is not None
        token = _bearer(authorization)
        if token is None:
            if not enforce:
                return None
            self.counters.invalid_tokens_rejected += 1
            return _not_logged_in("missing access token")
        if token == self.options.expected_token:
            return None
        claims = self._claims(token)
        if claims is None:
            if not enforce:
                return None
            self.counters.invalid_tokens_rejected += 1
            return _not_logged_in("invalid access token")
        if claims.get("token_use") != "access":
            self.counters.invalid_tokens_rejected += 1
            return _not_logged_in("not an access token")
        if float(claims.get("exp", 0)) <= self.now():
            self.counters.expired_tokens_rejected += 1
            return expired_token_failure()
        return None

    def _valid_refresh(self, token: str | None) -> bool:
        """Choice: refresh tokens are not rotated: an old one stays valid until its own
        expiry (the spec's peers keep the old one when a response omits it)."""
        if not token:
            return False
        claims = self._claims(token)
        return (
            claims is not None
            and claims.get("token_use") == "refresh"
            and float(claims.get("exp", 0)) > self.now()
        )

    def _valid_api_key(self, key: str | None) -> bool:
        """Choice: with no configured `api_keys`, any `crsr_` key is accepted (for practice)."""
        if not key:
            return False
        if self.options.api_keys is not None:
            return key in self.options.api_keys
        return key.startswith(API_KEY_PREFIX) and len(key) > len(API_KEY_PREFIX)

    # -- HTTP endpoints ---------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Response:
        """Serve one of AUTH_PATHS (plain JSON HTTP, no Cursor headers needed)."""
        # A switched-off refresh-only call does not exist; the exchange endpoint always
        # exists (for API keys) and only stops taking refresh tokens.
        name = REFRESH_ENDPOINTS.get(path)
        if path != EXCHANGE_API_KEY_PATH and name and name not in self.options.refresh_endpoints:
            return _json(404, {"error": "not_found"})
        expected_method = "GET" if path in (LOGIN_PAGE_PATH, POLL_PATH) else "POST"
        if method != expected_method:
            return _json(405, {"error": "method_not_allowed"})
        params = {k: v[0] for k, v in parse_qs(query).items()}
        if path == LOGIN_PAGE_PATH:
            return self._login_page(params)
        if path == POLL_PATH:
            return self._poll(params)
        if path == EXCHANGE_API_KEY_PATH:
            return self._exchange(_bearer(headers.get("authorization")))
        if path == REFRESH_PATH:
            return self._refresh("refresh", _bearer(headers.get("authorization")))
        return self._refresh("token", _json_field(body, "refreshToken"))

    def _login_page(self, params: dict[str, str]) -> Response:
        """Visiting the login URL approves the login at once (the user "signs in").

        A plain GET approves, so tests and people can approve with any HTTP client.
        """
        challenge, login_id = params.get("challenge", ""), params.get("uuid", "")
        if not _CHALLENGE.match(challenge) or not _is_uuid(login_id):
            return _html(400, "Bad login link", "The link lacks a valid challenge or uuid.")
        self._logins[login_id] = (challenge, True)
        self.counters.login_pages += 1
        return _html(
            200,
            "Logged in to the Cursor emulator",
            f"Signed in as {self.user.email}. You can close this tab and return to the terminal.",
        )

    def _poll(self, params: dict[str, str]) -> Response:
        """404 until the login page was visited, then the token pair once.

        Choice: a verifier that does not match the challenge also gets 404 (the attempt is
        looked up by uuid and challenge together, so a wrong verifier finds nothing), and a
        login hands out its tokens only once.
        """
        login_id, verifier = params.get("uuid", ""), params.get("verifier", "")
        pending = self._logins.get(login_id)
        if pending is None or not verifier or challenge_for(verifier) != pending[0]:
            return _json(404, {"error": "not_found"})
        del self._logins[login_id]
        self.counters.logins += 1
        return 200, "application/json", token_pair_body(self.issue())

    def _exchange(self, bearer: str | None) -> Response:
        """An API key (or, when that refresh call is enabled, a refresh token) → tokens."""
        if bearer in self._key_users:
            self.counters.api_key_exchanges += 1
            return 200, "application/json", token_pair_body(self.issue(self._key_users[bearer]))
        if self._valid_api_key(bearer):
            self.counters.api_key_exchanges += 1
            return 200, "application/json", token_pair_body(self.issue())
        if "exchange_user_api_key" in self.options.refresh_endpoints and self._valid_refresh(
            bearer
        ):
            self.counters.refreshes_exchange_user_api_key += 1
            return 200, "application/json", token_pair_body(self.issue(self._owner(bearer)))
        return _json(401, {"error": "unauthorized", "message": "invalid API key"})

    def _refresh(self, endpoint: str, refresh_token: str | None) -> Response:
        if not self._valid_refresh(refresh_token):
            return _json(401, {"error": "unauthorized", "message": "invalid refresh token"})
        if endpoint == "refresh":
            self.counters.refreshes_auth_refresh += 1
        else:
            self.counters.refreshes_auth_token += 1
        return 200, "application/json", token_pair_body(self.issue(self._owner(refresh_token)))

    def _owner(self, token: str | None) -> EmulatedUser:
        """Whose (valid) refresh token this is: a refresh keeps the user."""
        return self.users.get(self.subject(f"Bearer {token}"), self.user)


def expired_token_failure() -> AuthFailure:
    """How the service refuses an expired access token.

    Choice (spec §4.3 names only the code): Connect `unauthenticated` (HTTP 401 on unary
    calls; HTTP 200 with an end-stream error on Run, like every Run error) with an
    `aiserver.v1.ErrorDetails` detail ERROR_AUTH_TOKEN_EXPIRED.
    """
    message = "Your session has expired. Please log in again."
    detail = auth_error_detail(ERROR_AUTH_TOKEN_EXPIRED, "Session expired", message)
    return AuthFailure(ConnectError("unauthenticated", message), (detail,))


def _not_logged_in(reason: str) -> AuthFailure:
    detail = auth_error_detail(ERROR_AUTH_TOKEN_NOT_FOUND, "Not logged in", reason)
    return AuthFailure(ConnectError("unauthenticated", reason), (detail,))


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _json_field(body: bytes, name: str) -> str | None:
    try:
        parsed = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    value = parsed.get(name) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _json(status: int, body: dict[str, Any]) -> Response:
    return status, "application/json", json.dumps(body).encode()


def _html(status: int, title: str, text: str) -> Response:
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return status, "text/html; charset=utf-8", page.encode()
