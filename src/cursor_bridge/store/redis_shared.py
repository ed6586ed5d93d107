"""What the account pool of several bridge processes shares through Redis: cooldowns and
conversation bindings (the pool's PoolState), and one token refresh per account at a time.
Both are awaited, so they use `redis.asyncio`. (Stored responses: server/redis_responses.py.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager

import redis
import redis.asyncio as aioredis

from ..protocol.errors import ConnectError
from .redis import DEFAULT_PREFIX

BINDING_TTL = 7 * 24 * 3600
REFRESH_LOCK_TIMEOUT = 60.0


class RedisPoolState:
    """The account pool's shared state: `cooldown:<account>` (expires when the cooldown
    ends) and `bind:<conversation>` (refreshed on use)."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        self.prefix = prefix

    async def cooldowns(self, account_ids: Iterable[str]) -> dict[str, float]:
        ids = list(account_ids)
        if not ids:
            return {}
        async with _unavailable():
            values = await self.client.mget([f"{self.prefix}cooldown:{a}" for a in ids])
        return {a: float(v) for a, v in zip(ids, values, strict=True) if v is not None}

    async def set_cooldown(self, account_id: str, until: float) -> None:
        wait_ms = max(int((until - time.time()) * 1000), 1)
        async with _unavailable():
            await self.client.set(f"{self.prefix}cooldown:{account_id}", repr(until), px=wait_ms)

    async def binding(self, key: str) -> str | None:
        async with _unavailable():
            value = await self.client.getex(f"{self.prefix}{key}", ex=BINDING_TTL)
        return value.decode() if isinstance(value, bytes) else value

    async def bind(self, key: str, account_id: str) -> None:
        async with _unavailable():
            await self.client.set(f"{self.prefix}{key}", account_id, ex=BINDING_TTL)

    def refresh_lock(self, account_id: str) -> AbstractAsyncContextManager[None]:
        """Held by one process at a time: that process refreshes, the others then re-read
        the account file it wrote (auth/provider.py)."""
        return self._lock(f"{self.prefix}refresh:{account_id}")

    @contextlib.asynccontextmanager
    async def _lock(self, name: str) -> AsyncIterator[None]:
        lock = self.client.lock(name, timeout=REFRESH_LOCK_TIMEOUT, blocking_timeout=30)
        if not await lock.acquire():
            raise TimeoutError(f"waited too long for the refresh lock {name}")
        try:
            yield
        finally:
            with contextlib.suppress(redis.exceptions.LockError):
                await lock.release()

    async def aclose(self) -> None:
        await self.client.aclose()


@contextlib.asynccontextmanager
async def _unavailable() -> AsyncIterator[None]:
    """Redis away: the request fails as 503 in the caller's dialect, not as a crash."""
    try:
        yield
    except redis.RedisError as exc:
        raise ConnectError(
            "unavailable", f"the shared state (Redis) is unreachable: {exc}"
        ) from exc
