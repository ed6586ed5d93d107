"""Turns in flight per account, counted across every process of a bridge through Redis.

"Least loaded" must mean least loaded across `serve --workers N` (or several hosts), not in
one process. Each turn holds a lease: a member `<process>:<n>` of the sorted set
`load:<account>` whose score is the lease's expiry (Unix seconds). The process renews its
leases every `ttl / 3` seconds while the turns run and removes them when they end, so a
process that crashed stops counting within `ttl` seconds: expired members are dropped when
the load is read. The set itself expires `2 * ttl` after its last write.

Load is advice for placement, not a limit: when Redis does not answer, leases are not taken
and `loads` is None (the pool then uses this process's own counts), never a failed turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Callable, Iterable

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

LEASE_TTL = 60.0


class SharedLoad:
    """Leases of this process's turns, and every process's count per account."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        *,
        ttl: float = LEASE_TTL,
        owner: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.clock = clock  # Unix seconds: every process of a bridge must agree on it
        self.owner = owner or secrets.token_hex(4)
        self._numbers = itertools.count(1)
        self._leases: dict[str, str] = {}  # lease -> account id
        self._renewer: asyncio.Task[None] | None = None

    def _key(self, account_id: str) -> str:
        return f"{self.prefix}load:{account_id}"

    async def lease(self, account_id: str) -> str:
        """Count one more turn on *account_id*; returns the lease ("" when Redis is away)."""
        lease = f"{self.owner}:{next(self._numbers)}"
        key = self._key(account_id)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {lease: self.clock() + self.ttl})
                pipe.pexpire(key, int(self.ttl * 2000))
                await pipe.execute()
        except redis.RedisError as exc:
            log.warning("shared account load not counted (Redis: %s)", exc)
            return ""
        self._leases[lease] = account_id
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew())
        return lease

    async def release(self, account_id: str, lease: str) -> None:
        if not lease:
            return
        self._leases.pop(lease, None)
        with contextlib.suppress(redis.RedisError):
            await self.client.zrem(self._key(account_id), lease)

    async def loads(self, account_ids: Iterable[str]) -> dict[str, int] | None:
        """Turns in flight per account over all processes (None when Redis is away)."""
        ids = list(account_ids)
        now = self.clock()
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for account_id in ids:
                    pipe.zremrangebyscore(self._key(account_id), "-inf", now)
                    pipe.zcard(self._key(account_id))
                answers = await pipe.execute()
        except redis.RedisError:
            return None
        return {a: int(answers[2 * i + 1]) for i, a in enumerate(ids)}

    async def renew(self) -> None:
        """Push every running turn's lease `ttl` seconds ahead (done every `ttl / 3` s)."""
        expiry = self.clock() + self.ttl
        with contextlib.suppress(redis.RedisError):
            async with self.client.pipeline(transaction=False) as pipe:
                for lease, account_id in list(self._leases.items()):
                    pipe.zadd(self._key(account_id), {lease: expiry}, xx=True)
                    pipe.pexpire(self._key(account_id), int(self.ttl * 2000))
                await pipe.execute()

    async def _renew(self) -> None:
        while self._leases:
            await asyncio.sleep(self.ttl / 3)
            await self.renew()

    async def aclose(self) -> None:
        """Stop renewing (the leases then lapse, as after a crash)."""
        task, self._renewer = self._renewer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
