"""What the account pool of several bridge processes shares through Redis: cooldowns,
conversation bindings and turns in flight per account (the pool's PoolState; the load in
redis_load.py), one token refresh per account at a time, and
where each worker takes forwarded tool follow-ups (server/forwarding.py).
Both are awaited, so they use `redis.asyncio`. (Stored responses: server/redis_responses.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager

import redis
import redis.asyncio as aioredis

from ..protocol.errors import ConnectError
from .redis import DEFAULT_PREFIX
from .redis_load import LEASE_TTL, SharedLoad

BINDING_TTL = 7 * 24 * 3600
REFRESH_LOCK_TIMEOUT = 60.0


class RedisPoolState:
    """The account pool's shared state: `cooldown:<account>` (expires when the cooldown
    ends) and `bind:<conversation>` (refreshed on use)."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX, load_ttl: float = LEASE_TTL) -> None:
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        self.prefix = prefix
        self.load = SharedLoad(self.client, prefix, ttl=load_ttl)

    async def loads(self, account_ids: Iterable[str]) -> dict[str, int] | None:
        return await self.load.loads(account_ids)

    async def lease(self, account_id: str) -> str:
        return await self.load.lease(account_id)

    async def release(self, account_id: str, lease: str) -> None:
        await self.load.release(account_id, lease)

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
        await self.load.aclose()
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


class WorkerRegistry:
    """Where each worker of `serve --workers N` takes forwarded requests: `worker:<instance>`
    = its private port, kept alive by a refresh every TTL/3 s while the worker runs."""

    TTL = 30

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        self.prefix = prefix
        self._cache: dict[str, tuple[float, int | None]] = {}
        self._refresher: asyncio.Task[None] | None = None
        self._mine: str | None = None

    async def register(self, instance: str, port: int) -> None:
        key = f"{self.prefix}worker:{instance}"
        await self.client.set(key, str(port), ex=self.TTL)
        self._mine = key

        async def refresh() -> None:
            while True:
                await asyncio.sleep(self.TTL / 3)
                with contextlib.suppress(redis.RedisError):
                    await self.client.set(key, str(port), ex=self.TTL)

        self._refresher = asyncio.create_task(refresh())

    async def lookup(self, instance: str) -> int | None:
        """The private port of *instance* (cached two seconds), None when unknown."""
        now = time.monotonic()
        cached = self._cache.get(instance)
        if cached is not None and now - cached[0] < 2.0:
            return cached[1]
        try:
            raw = await self.client.get(f"{self.prefix}worker:{instance}")
        except redis.RedisError:
            return None
        port = int(raw) if raw is not None and raw.isdigit() else None
        self._cache[instance] = (now, port)
        return port

    async def aclose(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        if self._mine is not None:
            with contextlib.suppress(redis.RedisError):
                await self.client.delete(self._mine)
        await self.client.aclose()
