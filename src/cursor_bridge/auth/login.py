"""Ways to log in: the browser (PKCE) flow, an API key, or a token pair found elsewhere.

Each ends in `save_login()`, which names the account from the token and stores it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..protocol.auth import (
    POLL_MAX_ATTEMPTS,
    POLL_MAX_ERRORS,
    TokenPair,
    challenge_for,
    login_url,
    new_verifier,
    poll_delay,
)
from .claims import subject
from .client import AuthClient, AuthError
from .store import Account, TokenStore, normalize_backend

DEFAULT_LOGIN_TIMEOUT = 300.0  # the CLI's "~5 min"


class LoginFailed(Exception):
    """The login did not complete; the message says why (no secrets)."""


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One browser login: the user opens `url`; we poll with `login_id` and `verifier`."""

    login_id: str
    verifier: str = field(repr=False)
    url: str

    @classmethod
    def start(cls, website_url: str) -> LoginAttempt:
        verifier = new_verifier()
        login_id = str(uuid.uuid4())
        return cls(login_id, verifier, login_url(website_url, challenge_for(verifier), login_id))


async def wait_for_approval(
    client: AuthClient,
    attempt: LoginAttempt,
    *,
    timeout: float = DEFAULT_LOGIN_TIMEOUT,  # noqa: ASYNC109 -- the login's overall deadline
    delay_scale: float = 1.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> TokenPair:
    """Poll until the user approved the login: the CLI's schedule (1 s growing by 1.2x up to
    10 s; 404 = keep waiting; 3 failures in a row or *timeout* seconds end it).

    `delay_scale` shrinks the delays (tests and the emulator). Cancelling (Ctrl-C) stops it.
    """
    errors = 0
    last_error = ""
    try:
        async with asyncio.timeout(timeout):
            for number in range(POLL_MAX_ATTEMPTS):
                try:
                    pair = await client.poll(attempt.login_id, attempt.verifier)
                except AuthError as exc:
                    errors += 1
                    last_error = str(exc)
                    if errors >= POLL_MAX_ERRORS:
                        raise LoginFailed(f"giving up after {errors} failed polls: {exc}") from None
                else:
                    errors = 0
                    if pair is not None:
                        return pair
                await sleep(poll_delay(number) * delay_scale)
    except TimeoutError:
        raise LoginFailed(f"the login was not approved within {timeout:g} seconds") from None
    suffix = f" (last error: {last_error})" if last_error else ""
    raise LoginFailed(f"the login was not approved after {POLL_MAX_ATTEMPTS} polls{suffix}")


async def exchange_api_key(client: AuthClient, api_key: str) -> TokenPair:
    try:
        return await client.exchange_api_key(api_key)
    except AuthError as exc:
        if exc.status in (401, 403):
            raise LoginFailed("the backend refused this API key") from None
        raise LoginFailed(str(exc)) from None


def save_login(
    store: TokenStore,
    backend_url: str,
    pair: TokenPair,
    method: str,
    *,
    api_key: str = "",
    email: str = "",
    name: str = "",
) -> Account:
    """Store the logged-in account (one file per backend and account id) and return it.

    A login again to the same account keeps its label unless *name* gives a new one."""
    now = time.time()
    account_id = subject(pair.access_token) or "unknown"
    if not name:
        with contextlib.suppress(OSError, ValueError, TypeError):
            name = store.load(store.path_for(backend_url, account_id)).name
    account = Account(
        backend_url=normalize_backend(backend_url),
        account_id=account_id,
        method=method,
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        api_key=api_key,
        email=email,
        name=name,
        logged_in_at=now,
        refreshed_at=now,
    )
    store.save(account)
    return account
