"""The access token for the backend: a stored account, refreshed before it expires.

`AccountTokenProvider` is what `BackendConfig.token` calls before each Run or unary call, and
`on_unauthenticated` is the hook the backend calls once when the service refused a token.
Refreshes are single-flight: callers holding the same stale token share one refresh, so 50
concurrent requests across an expiry cause one refresh call. A Run already streaming is not
touched: its token was sent when it started. The account file is re-read when it changes
(a new `cursor-bridge login` while serving) and written back after each refresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path

from ..protocol.errors import ConnectError
from .client import AuthClient
from .refresh import RefreshFailed, refresh_account
from .store import Account, TokenStore

log = logging.getLogger(__name__)

DEFAULT_REFRESH_MARGIN = 300.0  # the CLI's "expiring soon" threshold (spec §2.4)
FAILURE_COOLDOWN = 30.0
# A lock named by account id, held by one process at a time (store/redis.py).
SharedLock = Callable[[str], AbstractAsyncContextManager[None]]


class LoggedOut(ConnectError):
    """The account file is gone (`cursor-bridge logout` ran while serving)."""

    def __init__(self) -> None:
        super().__init__("unauthenticated", "logged out of Cursor")


class AccountTokenProvider:
    """A TokenProvider (`await provider()` → access token) for one stored account.

    `margin`: refresh this many seconds before `exp`. A token without a readable `exp` is
    not refreshed ahead of time (only after the service refuses it). `clock` gives Unix
    seconds (tests move it).
    """

    def __init__(
        self,
        store: TokenStore,
        path: Path,
        client: AuthClient,
        *,
        margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
        failure_cooldown: float = FAILURE_COOLDOWN,
        shared_lock: SharedLock | None = None,
    ) -> None:
        self._store = store
        self._path = path
        self._client = client
        self._margin = margin
        self._clock = clock
        self._failure_cooldown = failure_cooldown
        self._shared_lock = shared_lock
        self._account = store.load(path)
        self._seen = self._stat()
        self._lock = asyncio.Lock()
        self._failure: tuple[str, float, str] | None = None  # (stale token, when, reason)
        self.refreshes = 0
        self.last_refresh_call: str | None = None

    @property
    def account(self) -> Account:
        return self._account

    async def __call__(self) -> str | None:
        self._reload_if_changed()
        token = self._account.access_token
        expiry = self._account.expires_at
        if expiry is None or expiry - self._clock() > self._margin:
            return token
        try:
            await self._refresh(token)
        except RefreshFailed as exc:
            if expiry <= self._clock():
                raise ConnectError(
                    "unauthenticated",
                    f"the Cursor access token expired and could not be refreshed ({exc})",
                ) from None
            log.warning(
                "could not refresh the Cursor access token (%s); using it until it expires at %s",
                exc,
                _when(expiry),
            )
        return self._account.access_token

    async def on_unauthenticated(self, rejected: str | None) -> bool:
        """The service refused *rejected*: True when a different token is now available."""
        try:
            self._reload_if_changed()
        except LoggedOut:
            return False
        if rejected is None or self._account.access_token != rejected:
            return True
        try:
            await self._refresh(rejected)
        except (RefreshFailed, LoggedOut) as exc:
            log.warning("the service refused the Cursor access token; refresh failed: %s", exc)
            return False
        return self._account.access_token != rejected

    async def _refresh(self, stale: str) -> None:
        """Replace *stale* unless another caller already did (single flight; with a
        `shared_lock`, across the processes sharing the account file too)."""
        async with self._lock:
            if self._shared_lock is None:
                await self._refresh_locked(stale)
                return
            async with self._shared_lock(self._account.account_id):
                await self._refresh_locked(stale)

    async def _refresh_locked(self, stale: str) -> None:
        self._reload_if_changed()
        if self._account.access_token != stale:
            return
        failure = self._failure
        now = time.monotonic()
        if failure and failure[0] == stale and now - failure[1] < self._failure_cooldown:
            raise RefreshFailed(failure[2])
        try:
            account, call = await refresh_account(self._client, self._account)
        except RefreshFailed as exc:
            self._failure = (stale, now, str(exc))
            raise
        self._account = account
        self._failure = None
        self.refreshes += 1
        self.last_refresh_call = call
        try:
            self._store.save(account)
            self._seen = self._stat()
        except OSError as exc:
            log.warning("could not save the refreshed Cursor token: %s", exc)
        expiry = account.expires_at
        log.info(
            "refreshed the Cursor access token via %s (valid until %s)",
            call,
            _when(expiry) if expiry else "unknown",
        )

    def _stat(self) -> tuple[int, int] | None:
        try:
            info = self._path.stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_size

    def _reload_if_changed(self) -> None:
        seen = self._stat()
        if seen is None:
            raise LoggedOut()
        if seen == self._seen:
            return
        try:
            self._account = self._store.load(self._path)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("cannot re-read the account file: %s", exc)
            return
        self._seen = seen
        self._failure = None


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
