"""Getting a new access token for a stored account.

No refresh call is confirmed (exec-auth-models.md §2.3): three are seen in peers. They are
tried in the spec's order, and when all fail, a stored API key is exchanged again (what the
CLI itself does). The first that returns a token pair wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..protocol.auth import TokenPair
from .client import AuthClient, AuthError
from .store import Account

RefreshCall = Callable[[AuthClient, str], Awaitable[TokenPair]]

# (name, call) in the order tried.
REFRESH_CANDIDATES: tuple[tuple[str, RefreshCall], ...] = (
    ("exchange_user_api_key", AuthClient.refresh_via_exchange),
    ("auth/refresh", AuthClient.refresh_via_refresh),
    ("auth/token", AuthClient.refresh_via_token),
)


class RefreshFailed(Exception):
    """No way to get a new token worked; the message lists why (no secrets)."""


async def refresh_account(client: AuthClient, account: Account) -> tuple[Account, str]:
    """The account with fresh tokens, and the name of the call that gave them."""
    failures: list[str] = []
    if account.refresh_token:
        for name, call in REFRESH_CANDIDATES:
            try:
                pair = await call(client, account.refresh_token)
            except AuthError as exc:
                failures.append(f"{name}: {exc}")
                continue
            return account.with_tokens(pair), name
    else:
        failures.append("no refresh token stored")
    if account.api_key:
        try:
            pair = await client.exchange_api_key(account.api_key)
        except AuthError as exc:
            failures.append(f"API key: {exc}")
        else:
            return account.with_tokens(pair), "api-key"
    raise RefreshFailed("; ".join(failures))
