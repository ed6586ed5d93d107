"""The pool's members: every account logged in at the backend, as it is *now*.

Like the single-login provider (follow.py), a `cursor-bridge login --label …` or `logout`
made while `serve` runs changes the pool from the next request on: the accounts folder is
re-read when its mtime changes. An account that stays keeps its PoolMember (its counters)
and its token provider (refresh state).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .client import AuthClient
from .follow import LoginWatch
from .pool import PoolMember, member_for
from .provider import DEFAULT_REFRESH_MARGIN, SharedLock
from .store import TokenStore


class LoggedInAccounts:
    """Called by the pool: the new member list when the logins changed, else None."""

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
        self._logins = LoginWatch(
            store, backend_url, client, margin=margin, shared_lock=shared_lock, clock=clock
        )
        self._members: dict[Path, PoolMember] = {}

    def __call__(self) -> list[PoolMember] | None:
        if not self._logins.changed():
            return None
        members: dict[Path, PoolMember] = {}
        for path, account in self._logins.store.accounts(self._logins.backend_url):
            member = self._members.get(path)
            if member is None:
                provider = self._logins.provider(path)
                member = member_for(account, provider, provider.on_unauthenticated)
            member.label = account.label
            members[path] = member
        self._members = members
        return list(members.values())
