"""Several accounts behind one bridge: who serves a conversation, and who is cooling down.

A conversation is bound to the account that served its first turn (its checkpoint, blobs
and parked Runs live there); new conversations go to the healthy account with the fewest
turns in flight (over every process of the bridge when the state is shared, else in this
one). An account the backend refused for a rate or usage limit cools down for
the time the backend gave (`retry_after`, from `Retry-After` or a `google.rpc.RetryInfo`
detail), else for a backoff that doubles while it keeps failing; new traffic moves on, and
a bound conversation moves to another account too (it is then seeded from its history).
When every allowed account is cooling, `AllAccountsCooling` says until when: never a wait.

Cooldowns, bindings and turns in flight live in a `PoolState`: in memory for one process,
in Redis when several share the load (store/redis_shared.py, store/redis_load.py), so every
process sees the same cooldowns and load.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from ..protocol.errors import ConnectError
from ..protocol.period_usage import PeriodUsage
from .restrictions import Restriction
from .store import Account

TokenSource = Callable[[], Awaitable[str | None]]
Reauthenticate = Callable[[str | None], Awaitable[bool]]

BACKOFF_FIRST = 30.0
BACKOFF_MAX = 600.0
# Connect codes that mean "this account may not send more now" (exec-auth-models.md §4.3).
LIMIT_CODES = frozenset({"resource_exhausted"})


def is_limit(error: ConnectError) -> bool:
    """Whether *error* is a rate or usage limit of the account (not of the request)."""
    return error.code in LIMIT_CODES or error.http_status == 429


class PoolState(Protocol):
    """What the processes of one bridge share about its accounts."""

    async def cooldowns(self, account_ids: Iterable[str]) -> dict[str, float]: ...

    async def set_cooldown(self, account_id: str, until: float) -> None: ...

    async def binding(self, key: str) -> str | None: ...

    async def bind(self, key: str, account_id: str) -> None: ...

    async def loads(self, account_ids: Iterable[str]) -> dict[str, int] | None:
        """Turns in flight per account over every process; None: count this process's."""
        ...

    async def lease(self, account_id: str) -> str:
        """Count a turn on the account until `release` (or until it lapses: a crash)."""
        ...

    async def release(self, account_id: str, lease: str) -> None: ...


class MemoryPoolState:
    """PoolState for one process: cooldowns, and the most recent `max_bindings` bindings."""

    def __init__(self, max_bindings: int = 100_000) -> None:
        self.max_bindings = max_bindings
        self._cooldowns: dict[str, float] = {}
        self._bindings: OrderedDict[str, str] = OrderedDict()

    # The synchronous forms, for AccountPool.choose_now (nothing here needs to wait).
    def cooldowns_now(self, account_ids: Iterable[str]) -> dict[str, float]:
        return {a: self._cooldowns[a] for a in account_ids if a in self._cooldowns}

    def binding_now(self, key: str) -> str | None:
        found = self._bindings.get(key)
        if found is not None:
            self._bindings.move_to_end(key)
        return found

    def bind_now(self, key: str, account_id: str) -> None:
        self._bindings[key] = account_id
        self._bindings.move_to_end(key)
        while len(self._bindings) > self.max_bindings:
            self._bindings.popitem(last=False)

    async def cooldowns(self, account_ids: Iterable[str]) -> dict[str, float]:
        return self.cooldowns_now(account_ids)

    async def set_cooldown(self, account_id: str, until: float) -> None:
        self._cooldowns[account_id] = until

    async def binding(self, key: str) -> str | None:
        return self.binding_now(key)

    async def bind(self, key: str, account_id: str) -> None:
        self.bind_now(key, account_id)

    async def loads(self, account_ids: Iterable[str]) -> dict[str, int] | None:
        return None  # one process: the members' own in_flight counts are the load

    async def lease(self, account_id: str) -> str:
        """No shared lease in one process (the member's in_flight count is the load): an
        empty lease id that `release` accepts."""
        return ""

    async def release(self, account_id: str, lease: str) -> None:
        """Nothing was taken by `lease`, so nothing is given back."""


class NotAllowed(ConnectError):
    """The caller's key may not use this model or any account of the pool."""

    def __init__(self, message: str) -> None:
        super().__init__("permission_denied", message)


class AllAccountsCooling(ConnectError):
    """Every account the caller may use is cooling down after a limit: retry after `retry_after`."""

    def __init__(self, retry_after: float, total: int) -> None:
        wait = max(1, math.ceil(retry_after))
        super().__init__(
            "resource_exhausted",
            f"every Cursor account of this bridge hit a rate or usage limit; "
            f"the first is available again in {wait} s",
            retry_after=wait,
        )
        self.total = total

    @property
    def headers(self) -> dict[str, str]:
        """OpenAI-style rate-limit headers: requests here count accounts available."""
        wait = max(1, math.ceil(self.retry_after or 1))
        reset = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "retry-after": str(wait),
            "x-ratelimit-limit-requests": str(self.total),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{wait}s",
            # Anthropic's spelling of the same, for its SDKs.
            "anthropic-ratelimit-requests-limit": str(self.total),
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset,
        }


@dataclass
class PoolMember:
    """One account of the pool, its token source and what it has done in this process."""

    account_id: str
    label: str
    token: TokenSource
    on_unauthenticated: Reauthenticate | None = None
    in_flight: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    limit_hits: int = 0
    failures_in_a_row: int = 0
    last_error: str = ""
    last_limit_at: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)
    # The backend's own report (GetCurrentPeriodUsage, see pool_usage.py): the last answer,
    # when it was asked for, why the last call failed ("" when it did not), whether it is due.
    period_usage: PeriodUsage | None = None
    usage_checked_at: float = 0.0
    usage_error: str = ""
    usage_due: bool = True


class AccountPool:
    """Chooses the account for each turn (see module doc). `clock`: Unix seconds."""

    def __init__(
        self,
        members: Iterable[PoolMember],
        state: PoolState | None = None,
        *,
        follow: Callable[[], list[PoolMember] | None] | None = None,
        clock: Callable[[], float] = time.time,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self._members = list(members)
        self._follow = follow  # the current members when they changed (new logins), else None
        self.state: PoolState = state or MemoryPoolState()
        self.clock = clock
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.moved = 0  # bound conversations moved off a cooling account
        self._cooling: dict[str, float] = {}  # last seen, for status without a round trip
        # Told when an account hits a limit (the usage watch then asks for its report).
        self.on_limit: Callable[[PoolMember], None] | None = None

    @property
    def members(self) -> list[PoolMember]:
        if self._follow is not None:
            changed = self._follow()
            if changed is not None:
                self._members = changed
        return self._members

    def by_id(self, account_id: str) -> PoolMember | None:
        return next((m for m in self.members if m.account_id == account_id), None)

    @property
    def local(self) -> bool:
        """Whether the state is this process's own (exactly a MemoryPoolState, not a
        subclass that may do more): then `choose_now`, `begin_now` and `end_now` do what
        `choose`, `begin` and `end` do, without a coroutine per call and per state access
        (a turn would otherwise pass about eight)."""
        return type(self.state) is MemoryPoolState

    async def choose(
        self,
        binding_key: str | None,
        restriction: Restriction | None = None,
        exclude: Iterable[str] = (),
    ) -> PoolMember | None:
        """The account for a turn: the conversation's own when it is healthy, else the
        least-loaded healthy one (then bound); None when nobody is logged in. Raises
        AllAccountsCooling or NotAllowed."""
        state = self.state
        if type(state) is MemoryPoolState:
            return self.choose_now(binding_key, restriction, exclude)
        allowed = self._allowed(restriction)
        if not allowed:
            return None
        now = self.clock()
        cooling = await state.cooldowns(m.account_id for m in allowed)
        healthy = self._healthy(allowed, cooling, now, exclude)
        bound = await state.binding(binding_key) if binding_key else None
        member = self._bound_member(allowed, healthy, cooling, bound, now)
        if member is not None:
            return member
        shared = await state.loads(m.account_id for m in healthy) if healthy[1:] else None
        member = _least_loaded(healthy, shared)
        if binding_key:
            await state.bind(binding_key, member.account_id)
        return member

    def choose_now(
        self,
        binding_key: str | None,
        restriction: Restriction | None = None,
        exclude: Iterable[str] = (),
    ) -> PoolMember | None:
        """`choose` for the in-process state (`local`; raises TypeError otherwise), the
        same steps without awaiting: its loads are this process's own counts."""
        state = self.state
        if type(state) is not MemoryPoolState:
            raise TypeError("choose_now needs the in-process pool state")
        allowed = self._allowed(restriction)
        if not allowed:
            return None
        now = self.clock()
        cooling = state.cooldowns_now(m.account_id for m in allowed)
        healthy = self._healthy(allowed, cooling, now, exclude)
        bound = state.binding_now(binding_key) if binding_key else None
        member = self._bound_member(allowed, healthy, cooling, bound, now)
        if member is not None:
            return member
        member = _least_loaded(healthy, None)
        if binding_key:
            state.bind_now(binding_key, member.account_id)
        return member

    def _allowed(self, restriction: Restriction | None) -> list[PoolMember]:
        """The members *restriction* allows ([] when nobody is logged in); raises
        NotAllowed when there are members but none allowed."""
        members = self.members
        if not members:
            return []
        allowed = [m for m in members if restriction is None or restriction.allows_account(m)]
        if not allowed:
            raise NotAllowed("this API key may not use any Cursor account of this bridge")
        return allowed

    def _healthy(
        self,
        allowed: list[PoolMember],
        cooling: dict[str, float],
        now: float,
        exclude: Iterable[str],
    ) -> list[PoolMember]:
        """The allowed members not cooling down nor excluded (the cooldowns are noted)."""
        skip = set(exclude)
        self._cooling.update(cooling)
        return [
            m for m in allowed if cooling.get(m.account_id, 0.0) <= now and m.account_id not in skip
        ]

    def _bound_member(
        self,
        allowed: list[PoolMember],
        healthy: list[PoolMember],
        cooling: dict[str, float],
        bound: str | None,
        now: float,
    ) -> PoolMember | None:
        """The conversation's own account when healthy; else None, to choose another
        (raises AllAccountsCooling when none is healthy; counts a bound one moved)."""
        if bound is not None:
            member = next((m for m in healthy if m.account_id == bound), None)
            if member is not None:
                return member
        if not healthy:
            waits = [cooling.get(m.account_id, now) - now for m in allowed]
            raise AllAccountsCooling(max(min(waits), 1.0), len(allowed))
        if bound is not None:
            self.moved += 1
        return None

    async def begin(self, member: PoolMember) -> str:
        """A turn starts on *member*: counted here and, when shared, across processes."""
        member.in_flight += 1
        member.requests += 1
        return await self.state.lease(member.account_id)

    def begin_now(self, member: PoolMember) -> str:
        """`begin` for the in-process state (`local`): counted here; its lease is ""."""
        member.in_flight += 1
        member.requests += 1
        return ""

    async def end(self, member: PoolMember, lease: str) -> None:
        member.in_flight -= 1  # before any await: a cancelled turn still counts down here
        if lease:
            await self.state.release(member.account_id, lease)

    def end_now(self, member: PoolMember) -> None:
        """`end` of a turn without a lease to give back ("", as any in-process one)."""
        member.in_flight -= 1

    async def limited(self, member: PoolMember, error: ConnectError) -> float:
        """*member* hit a limit: cool it down (backend's time, else backoff); returns until."""
        member.limit_hits += 1
        member.failures_in_a_row += 1
        member.last_error = f"{error.code}: {error.message}"[:200]
        now = self.clock()
        member.last_limit_at = now
        if error.retry_after is not None and error.retry_after > 0:
            wait = float(error.retry_after)
        else:
            wait = min(self.backoff_first * 2 ** (member.failures_in_a_row - 1), self.backoff_max)
        until = now + wait
        self._cooling[member.account_id] = until
        await self.state.set_cooldown(member.account_id, until)
        if self.on_limit is not None:
            self.on_limit(member)
        return until

    def succeeded(self, member: PoolMember, input_tokens: int, output_tokens: int) -> None:
        member.failures_in_a_row = 0
        member.input_tokens += input_tokens
        member.output_tokens += output_tokens

    async def refresh_cooldowns(self) -> None:
        self._cooling.update(await self.state.cooldowns(m.account_id for m in self.members))

    def snapshot(self) -> list[AccountStatus]:
        """Per account: health, cooldown and usage (for status, /metrics and /status)."""
        now = self.clock()
        rows: list[AccountStatus] = []
        for m in self.members:
            until = self._cooling.get(m.account_id, 0.0)
            cooling = until > now
            rows.append(
                AccountStatus(
                    account_id=m.account_id,
                    label=m.label,
                    healthy=not cooling,
                    cooling_until=until if cooling else None,
                    cooling_seconds=math.ceil(until - now) if cooling else 0,
                    in_flight=m.in_flight,
                    requests=m.requests,
                    input_tokens=m.input_tokens,
                    output_tokens=m.output_tokens,
                    limit_hits=m.limit_hits,
                    last_error=m.last_error or None,
                    period_usage=m.period_usage,
                    usage_checked_at=m.usage_checked_at or None,
                    usage_error=m.usage_error or None,
                )
            )
        return rows


@dataclass(frozen=True, slots=True)
class AccountStatus:
    account_id: str
    label: str
    healthy: bool
    cooling_until: float | None
    cooling_seconds: int
    in_flight: int
    requests: int
    input_tokens: int
    output_tokens: int
    limit_hits: int
    last_error: str | None
    period_usage: PeriodUsage | None = None  # the backend's report, None before the first
    usage_checked_at: float | None = None
    usage_error: str | None = None


def _least_loaded(healthy: list[PoolMember], shared: dict[str, int] | None) -> PoolMember:
    """The member with the fewest turns in flight (over every process when *shared*)."""
    if shared is not None:
        return min(healthy, key=lambda m: (shared.get(m.account_id, 0), m.requests))
    return min(healthy, key=lambda m: (m.in_flight, m.requests))


def member_for(account: Account, token: TokenSource, hook: Reauthenticate | None) -> PoolMember:
    return PoolMember(account.account_id, account.label, token, hook)
