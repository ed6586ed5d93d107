"""The backend's own report of each pool account's usage and limits, kept on its member.

`GetCurrentPeriodUsage` (protocol/period_usage.py) is asked per account when the bridge
starts (or the account is first seen), then every `interval` seconds, and again soon after
the account hit a rate or usage limit: never per request, since no client is known to call
it at all and the figures change slowly. The last answer is cached on the PoolMember with
when it was read; a failed call keeps the previous figures, records why (shown by status,
/status and /metrics), and is retried after `retry` seconds. Nothing here blocks a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..protocol.headers import ClientIdentity, unary_headers
from ..protocol.period_usage import (
    PATH,
    REQUEST_BODY,
    PeriodUsage,
    UsageReportError,
    read_period_usage,
)
from ..transport import BackendPool, TransportError
from .pool import AccountPool, PoolMember

log = logging.getLogger(__name__)

# token -> (HTTP status, body) of one GetCurrentPeriodUsage call.
UsageFetch = Callable[[str | None], Awaitable[tuple[int, bytes]]]
DEFAULT_INTERVAL = 300.0
DEFAULT_RETRY = 60.0
CALL_TIMEOUT = 10.0


def backend_usage_fetch(pool: BackendPool, api_url: str, identity: ClientIdentity) -> UsageFetch:
    """The call against a backend's API host, with the headers of any unary call."""

    async def fetch(token: str | None) -> tuple[int, bytes]:
        headers = unary_headers(token, identity, now_ms=int(time.time() * 1000), json_codec=True)
        response = await pool.unary(
            api_url.rstrip("/") + PATH, headers, REQUEST_BODY, timeout=CALL_TIMEOUT
        )
        return response.status, response.body

    return fetch


async def ask_usage(fetch: UsageFetch, token: str | None) -> tuple[int, PeriodUsage | str]:
    """One call: (HTTP status, the report) or (status, why not; 0 when no answer came)."""
    try:
        status, body = await fetch(token)
        if status != 200:
            return status, _failure(status, body)
        return status, read_period_usage(body)
    except (UsageReportError, TransportError, OSError) as exc:
        return 0, str(exc)[:200] or type(exc).__name__


async def read_usage(member: PoolMember, fetch: UsageFetch, now: float) -> None:
    """Ask for *member*'s usage once and store the answer or the failure on it."""
    member.usage_due = False
    member.usage_checked_at = now
    try:
        token = await member.token()
        status, result = await ask_usage(fetch, token)
        renew = member.on_unauthenticated
        if status == 401 and renew is not None and await renew(token):
            status, result = await ask_usage(fetch, await member.token())
    except Exception as exc:  # a refresh that failed, a bug: never the turn's problem
        log.warning("usage report of account %s failed: %r", member.label, exc)
        result = f"{type(exc).__name__}: {str(exc)[:160]}"
    if isinstance(result, str):
        member.usage_error = result
    else:
        member.period_usage, member.usage_error = result, ""


async def usage_reports(
    api_url: str, identity: ClientIdentity, tokens: Sequence[str]
) -> list[PeriodUsage | str]:
    """For `status`: each token's report, or why there is none (one call each, at once)."""
    async with BackendPool() as pool:
        fetch = backend_usage_fetch(pool, api_url, identity)
        answers = await asyncio.gather(*(ask_usage(fetch, token) for token in tokens))
    return [result for _, result in answers]


def usage_json(usage: PeriodUsage | str | None) -> dict[str, Any] | None:
    """`status --json`'s `usage` of an account (money in the backend's unit, see
    protocol/period_usage.py)."""
    if usage is None:
        return None
    if isinstance(usage, str):
        return {"error": usage}
    return {
        "billing_cycle_start": usage.cycle_start,
        "billing_cycle_end": usage.cycle_end,
        "plan_used": usage.plan_used,
        "plan_limit": usage.plan_limit,
        "plan_remaining": usage.plan_remaining,
        "on_demand_enabled": usage.on_demand_enabled,
        "on_demand_used": usage.on_demand_used,
        "on_demand_limit": usage.on_demand_limit,
        "on_demand_remaining": usage.on_demand_remaining,
        "message": usage.message or None,
        "unit": "cents (inferred)",
    }


def _failure(status: int, body: bytes) -> str:
    """`HTTP 503 unavailable: …` from a Connect unary error answer."""
    detail = ""
    with contextlib.suppress(ValueError, UnicodeDecodeError, AttributeError):
        raw = json.loads(body)
        detail = f" {raw.get('code', '')}: {raw.get('message', '')}".rstrip(": ")
    return f"HTTP {status}{detail}"[:200]


class UsageWatch:
    """Keeps every member's report fresh in the background (see module doc)."""

    def __init__(
        self,
        pool: AccountPool,
        fetch: UsageFetch,
        *,
        interval: float = DEFAULT_INTERVAL,
        retry: float = DEFAULT_RETRY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.fetch = fetch
        self.interval = interval
        self.retry = retry
        self.clock = clock
        self.calls = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        pool.on_limit = self.due

    def start(self) -> None:
        """Begin watching (idempotent; needs a running event loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def due(self, member: PoolMember) -> None:
        """Ask for *member*'s report at the next chance (after a limit, say)."""
        member.usage_due = True
        self._wake.set()

    def next_check(self, member: PoolMember) -> float:
        if member.usage_due:
            return 0.0
        wait = self.retry if member.usage_error else self.interval
        return member.usage_checked_at + wait

    async def check_due(self) -> float:
        """Ask for every report that is due; returns the seconds until the next one is."""
        now = self.clock()
        members = self.pool.members
        due = [m for m in members if self.next_check(m) <= now]
        self.calls += len(due)
        await asyncio.gather(*(read_usage(m, self.fetch, now) for m in due))
        upcoming = [self.next_check(m) for m in self.pool.members]
        # New logins are noticed within a minute even when nothing else is due.
        return max(min([*upcoming, now + 60.0]) - self.clock(), 0.05)

    async def _watch(self) -> None:
        while True:
            wait = await self.check_due()
            self._wake.clear()
            # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation
            # that arrives as the event is set, and aclose() then waits for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
