"""The backend's usage report per pool account, in isolation: read at start, then only on
the interval or soon after a limit (never per request), cached on the member, a failure
kept beside the last good figures and retried sooner, a refused token renewed once; and
the report's reading (codec, units) in one place."""

from __future__ import annotations

import json

import pytest

from cursor_bridge.auth.pool import AccountPool, MemoryPoolState, PoolMember
from cursor_bridge.auth.pool_usage import UsageWatch, read_usage
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.protocol.period_usage import UsageReportError, read_period_usage


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Backend:
    """Answers GetCurrentPeriodUsage per token, counting calls; `status` forces an error."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []
        self.spend: dict[str, int] = {}
        self.status = 200
        self.refused: set[str] = set()

    async def __call__(self, token: str | None) -> tuple[int, bytes]:
        self.calls.append(token)
        if token in self.refused:
            return 401, b'{"code":"unauthenticated","message":"expired"}'
        if self.status != 200:
            return self.status, b'{"code":"unavailable","message":"down"}'
        used = self.spend.get(token or "", 0)
        body = {
            "billingCycleStart": "1764547200000",
            "billingCycleEnd": "1767225600000",
            "planUsage": {"totalSpend": used, "limit": 2000, "remaining": 2000 - used},
            "enabled": False,
        }
        return 200, json.dumps(body).encode()


def member(name: str) -> PoolMember:
    async def token() -> str:
        return f"token-{name}"

    return PoolMember(f"id-{name}", name, token)


def watch(backend: Backend, clock: Clock, *names: str) -> tuple[AccountPool, UsageWatch]:
    pool = AccountPool([member(n) for n in names], MemoryPoolState(), clock=clock)
    return pool, UsageWatch(pool, backend, interval=300, retry=60, clock=clock)


async def test_read_at_start_then_on_the_interval_only() -> None:
    backend, clock = Backend(), Clock()
    pool, usage = watch(backend, clock, "a", "b")
    backend.spend["token-a"] = 120
    wait = await usage.check_due()
    assert sorted(backend.calls) == ["token-a", "token-b"]
    assert wait == pytest.approx(60.0)  # new logins are looked for within a minute
    a = pool.members[0]
    assert a.period_usage is not None and a.period_usage.plan_used == 120
    assert a.usage_checked_at == clock.now and a.usage_error == ""

    for _ in range(50):  # turns do not ask: nothing is due before the interval
        await pool.choose(None)
        await usage.check_due()
    assert len(backend.calls) == 2
    clock.now += 300
    backend.spend["token-a"] = 240
    await usage.check_due()
    assert len(backend.calls) == 4 and a.period_usage.plan_used == 240


async def test_a_limit_makes_the_report_due_at_once() -> None:
    backend, clock = Backend(), Clock()
    pool, usage = watch(backend, clock, "a", "b")
    await usage.check_due()
    a = pool.members[0]
    await pool.limited(a, ConnectError("resource_exhausted", "limit", retry_after=30))
    assert a.usage_due
    clock.now += 1
    assert await usage.check_due() > 0
    assert backend.calls[2:] == ["token-a"]


async def test_failure_keeps_the_figures_and_retries_sooner() -> None:
    backend, clock = Backend(), Clock()
    pool, usage = watch(backend, clock, "a")
    backend.spend["token-a"] = 50
    await usage.check_due()
    a = pool.members[0]
    backend.status = 503
    clock.now += 300
    await usage.check_due()
    assert a.usage_error == "HTTP 503 unavailable: down"
    assert a.period_usage is not None and a.period_usage.plan_used == 50, "last good figures"
    row = pool.snapshot()[0]
    assert row.usage_error == a.usage_error and row.period_usage == a.period_usage
    clock.now += 59
    await usage.check_due()
    assert len(backend.calls) == 2
    backend.status = 200
    clock.now += 1  # the retry comes after 60 s, not the 300 s interval
    await usage.check_due()
    assert len(backend.calls) == 3 and a.usage_error == ""


async def test_a_refused_token_is_renewed_once() -> None:
    backend = Backend()
    renewed: list[str | None] = []
    tokens = iter(["old", "new", "new"])

    async def token() -> str:
        return next(tokens)

    async def renew(refused: str | None) -> bool:
        renewed.append(refused)
        return True

    backend.refused.add("old")
    m = PoolMember("id", "a", token, renew)
    await read_usage(m, backend, 1.0)
    assert renewed == ["old"] and backend.calls == ["old", "new"]
    assert m.period_usage is not None and m.usage_error == ""


async def test_a_token_that_cannot_be_had_is_a_recorded_failure() -> None:
    async def token() -> str:
        raise ConnectError("unauthenticated", "refresh failed")

    m = PoolMember("id", "a", token)
    await read_usage(m, Backend(), 1.0)
    assert m.period_usage is None and "refresh failed" in m.usage_error


async def test_the_watch_runs_in_the_background_and_stops() -> None:
    backend, clock = Backend(), Clock()
    pool, usage = watch(backend, clock, "a")
    usage.start()
    usage.start()  # idempotent
    from tests.support.polling import wait_until

    await wait_until(lambda: pool.members[0].period_usage is not None, timeout=5)
    usage.due(pool.members[0])
    await wait_until(lambda: len(backend.calls) == 2, timeout=5)
    await usage.aclose()
    assert len(backend.calls) == 2


def test_reading_the_report() -> None:
    usage = read_period_usage(
        b'{"billingCycleStart": "1764547200000", "billingCycleEnd": 1767225600,'
        b' "planUsage": {"totalSpend": 1500, "limit": 2000, "remaining": 500},'
        b' "spendLimitUsage": {"individualLimit": 1000, "individualUsed": 20,'
        b' "individualRemaining": 980, "limitType": "user"}, "enabled": true,'
        b' "aNewerField": {"x": 1}}'
    )
    assert usage.cycle_start == 1764547200.0  # milliseconds
    assert usage.cycle_end == 1767225600.0  # seconds, taken as such
    assert (usage.plan_used, usage.plan_limit, usage.plan_remaining) == (1500, 2000, 500)
    assert usage.plan_share == 0.75
    assert (usage.on_demand_used, usage.on_demand_limit) == (20, 1000)
    bare = read_period_usage(b"{}")
    assert bare.on_demand_used is None and bare.cycle_end is None and bare.plan_share is None
    for junk in (b"<html>", b"[1]", b'{"planUsage": "x"}', b"\xff"):
        with pytest.raises(UsageReportError):
            read_period_usage(junk)
