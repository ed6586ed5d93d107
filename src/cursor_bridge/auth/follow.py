"""The token of whichever account is logged in at a backend *now*.

`serve` must pick up a `cursor-bridge login` made while it runs (README, Live mode), also when
it started with no login at all, or when the new login is a different account. This provider
looks up the latest login of its backend URL whenever the accounts folder changed (a login
or logout renames a file into it, which changes the folder's mtime) and delegates to an
`AccountTokenProvider` for that account file (refresh, single flight, re-reads).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from ..protocol.errors import ConnectError
from .client import AuthClient
from .provider import DEFAULT_REFRESH_MARGIN, AccountTokenProvider, LoggedOut, SharedLock
from .store import Account, TokenStore

log = logging.getLogger(__name__)


class LoginWatch:
    """The logins stored for one backend URL, looked at again only when the accounts folder
    changed, and token providers for them: what the latest-login provider below and the
    pool's member list (pool_members.py) both follow."""

    def __init__(
        self,
        store: TokenStore,
        backend_url: str,
        client: AuthClient,
        *,
        margin: float = DEFAULT_REFRESH_MARGIN,
        shared_lock: SharedLock | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.backend_url = backend_url
        self._client = client
        self._margin = margin
        self._shared_lock = shared_lock
        self._clock = clock
        self._seen: int | None = -1

    def changed(self) -> bool:
        """True at first and once after each login or logout at any backend."""
        stamp = self.store.stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True

    def look_again(self) -> None:
        """Make the next `changed()` true (a login went away without the stamp saying so)."""
        self._seen = -1

    def provider(self, path: Path) -> AccountTokenProvider:
        """Tokens of the account stored at *path* (refreshed `margin` seconds early)."""
        return AccountTokenProvider(
            self.store,
            path,
            self._client,
            margin=self._margin,
            clock=self._clock,
            shared_lock=self._shared_lock,
        )


class LatestLoginTokens:
    """A TokenProvider following the latest login stored for `backend_url`.

    With no login it returns None (no token is sent), or raises `unauthenticated` when
    `required` (Cursor's real backend refuses Runs without one).
    """

    def __init__(
        self,
        store: TokenStore,
        backend_url: str,
        client: AuthClient,
        *,
        margin: float = DEFAULT_REFRESH_MARGIN,
        required: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._logins = LoginWatch(store, backend_url, client, margin=margin, clock=clock)
        self._required = required
        self._path: Path | None = None
        self._provider: AccountTokenProvider | None = None

    @property
    def account(self) -> Account | None:
        self._follow()
        return self._provider.account if self._provider is not None else None

    async def __call__(self) -> str | None:
        self._follow()
        if self._provider is None:
            if self._required:
                raise ConnectError("unauthenticated", "not logged in to Cursor")
            return None
        try:
            return await self._provider()
        except LoggedOut:
            self._logins.look_again()  # logged out meanwhile
            self._follow()
            if self._provider is None:
                raise
            return await self._provider()

    async def on_unauthenticated(self, rejected: str | None) -> bool:
        """The service refused *rejected*: True when a different token is now available."""
        self._follow()
        if self._provider is None:
            return False
        return await self._provider.on_unauthenticated(rejected)

    def _follow(self) -> None:
        """Switch to the latest login when the accounts folder changed."""
        if not self._logins.changed():
            return
        found = self._logins.store.current(self._logins.backend_url)
        path = found[0] if found is not None else None
        if path == self._path and self._provider is not None:
            return
        self._path = path
        if path is None:
            self._provider = None
            return
        self._provider = self._logins.provider(path)
        log.info("using the Cursor login %s", self._provider.account.label)
