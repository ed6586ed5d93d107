"""HTTP calls to Cursor's auth endpoints (plain JSON over HTTP, no Cursor headers).

Facts: exec-auth-models.md §2. Every call has a short timeout (5 s, as peers use) and raises
AuthError with a message safe to show: it never contains a token, a key or the verifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import httpx

from ..protocol.auth import (
    CURSOR_API_URL,
    CURSOR_WEBSITE_URL,
    EXCHANGE_API_KEY_PATH,
    POLL_PATH,
    REFRESH_PATH,
    TOKEN_PATH,
    TokenPair,
    parse_token_pair,
    poll_query,
)

AUTH_TIMEOUT = 5.0


class AuthError(Exception):
    """An auth call failed; the message is safe to show (no secrets)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class AuthEndpoints:
    """Where the auth calls go: the API host, and the website serving the login page."""

    api_url: str
    website_url: str

    @classmethod
    def for_backend(cls, backend_url: str, website_url: str | None = None) -> AuthEndpoints:
        """Cursor's API pairs with cursor.com; any other backend (an emulator) serves both."""
        api = backend_url.rstrip("/")
        if website_url is None:
            website_url = CURSOR_WEBSITE_URL if api == CURSOR_API_URL else api
        return cls(api, website_url.rstrip("/"))


class AuthClient:
    """The auth calls of one backend. Use as an async context manager (or `aclose()`)."""

    def __init__(
        self,
        endpoints: AuthEndpoints,
        http: httpx.AsyncClient | None = None,
        timeout: float = AUTH_TIMEOUT,
    ) -> None:
        self.endpoints = endpoints
        self._http = http or httpx.AsyncClient(http2=True, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AuthClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def poll(self, login_id: str, verifier: str) -> TokenPair | None:
        """One poll of a browser login: the tokens, or None while not approved (HTTP 404)."""
        url = f"{self.endpoints.api_url}{POLL_PATH}?{poll_query(login_id, verifier)}"
        response = await self._send("GET", url, "login poll", json_header=True)
        if response.status_code == 404:
            return None
        return self._pair(response, "login poll", require_refresh=True)

    async def exchange_api_key(self, api_key: str) -> TokenPair:
        """A user API key → a token pair (`POST /auth/exchange_user_api_key`)."""
        url = self.endpoints.api_url + EXCHANGE_API_KEY_PATH
        response = await self._send("POST", url, "API key exchange", bearer=api_key, body={})
        return self._pair(response, "API key exchange", require_refresh=False)

    async def refresh_via_exchange(self, refresh_token: str) -> TokenPair:
        """Refresh candidate 1: the exchange endpoint with the refresh token as bearer."""
        url = self.endpoints.api_url + EXCHANGE_API_KEY_PATH
        response = await self._send("POST", url, "refresh", bearer=refresh_token, body={})
        return self._pair(response, "refresh", require_refresh=False)

    async def refresh_via_refresh(self, refresh_token: str) -> TokenPair:
        """Refresh candidate 2: `POST /auth/refresh` with the refresh token as bearer."""
        url = self.endpoints.api_url + REFRESH_PATH
        response = await self._send("POST", url, "refresh", bearer=refresh_token, body={})
        return self._pair(response, "refresh", require_refresh=True)

    async def refresh_via_token(self, refresh_token: str) -> TokenPair:
        """Refresh candidate 3: `POST /auth/token` with `{"refreshToken"}`, no bearer."""
        url = self.endpoints.api_url + TOKEN_PATH
        body = {"refreshToken": refresh_token}
        response = await self._send("POST", url, "refresh", body=body)
        return self._pair(response, "refresh", require_refresh=True)

    async def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        bearer: str | None = None,
        body: dict[str, str] | None = None,
        json_header: bool = False,
    ) -> httpx.Response:
        headers = {}
        if bearer is not None:
            headers["authorization"] = f"Bearer {bearer}"
        if json_header:
            headers["content-type"] = "application/json"
        try:
            return await self._http.request(method, url, headers=headers, json=body)
        except httpx.TimeoutException:
            raise AuthError(f"{what}: {self.endpoints.api_url} did not answer in time") from None
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise AuthError(f"{what}: cannot reach {self.endpoints.api_url} ({reason})") from None

    @staticmethod
    def _pair(response: httpx.Response, what: str, *, require_refresh: bool) -> TokenPair:
        if response.status_code != 200:
            raise AuthError(f"{what}: HTTP {response.status_code}", status=response.status_code)
        try:
            return parse_token_pair(response.content, require_refresh=require_refresh)
        except ValueError as exc:
            raise AuthError(f"{what}: {exc}", status=200) from None
