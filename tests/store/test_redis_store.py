"""The Redis store against a real redis-server: the StateStore contract across two
"processes" (two clients), stored responses, the pool's shared cooldowns and bindings, and
one token refresh per account across processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cursor_bridge.auth import AccountTokenProvider, AuthClient, AuthEndpoints, TokenStore
from cursor_bridge.auth.login import exchange_api_key, save_login
from cursor_bridge.auth.pool import AccountPool, PoolMember
from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.engine.request import ChatMessage, ImageInput, ToolCallRecord
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.server.redis_responses import RedisResponseStore
from cursor_bridge.store import StateStoreError
from cursor_bridge.store.redis import RedisStateStore
from cursor_bridge.store.redis_shared import RedisPoolState
from tests.support.redis_server import redis_server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return f"t-{request.node.name}-{time.monotonic_ns()}:"


def test_checkpoints_and_blobs_are_shared(redis_url: str, prefix: str) -> None:
    with (
        RedisStateStore(redis_url, prefix=prefix, ttl=100) as one,
        RedisStateStore(redis_url, prefix=prefix, ttl=100) as two,
    ):
        blob_id = bytes(range(32))
        one.conversation_blobs("conv:a").put(blob_id, b"blob bytes")
        one.save_checkpoint("fp:1", b"\x00checkpoint\nbytes", {"conversation_id": "c1"})
        # Visible at once in the writing process, before Redis has it.
        assert one.blobs.get(blob_id) == b"blob bytes"
        assert one.load_checkpoint("fp:1") is not None
        one.flush(5)
        stored = two.load_checkpoint("fp:1")
        assert stored is not None
        assert stored.checkpoint == b"\x00checkpoint\nbytes"
        assert stored.meta == {"conversation_id": "c1"}
        assert abs(stored.saved_at - time.time()) < 5
        assert two.conversation_blobs("conv:b").get(blob_id) == b"blob bytes"
        assert two.blobs.get(bytes(32)) is None
        assert two.load_checkpoint("fp:missing") is None
        raw = redis.Redis.from_url(redis_url)
        assert 0 < raw.ttl(f"{prefix}blob:{blob_id.hex()}") <= 100
        assert 0 < raw.ttl(f"{prefix}ckpt:fp:1") <= 100
        two.drop_conversation("fp:1")
        assert two.load_checkpoint("fp:1") is None
        two.flush(5)
        assert one.load_checkpoint("fp:1") is None
        assert two.stats().blob_bytes > 0
        raw.close()


def test_writes_commit_in_call_order(redis_url: str, prefix: str) -> None:
    with RedisStateStore(redis_url, prefix=prefix) as store:
        for i in range(500):
            store.blobs.put(i.to_bytes(32, "big"), b"x" * i)
        store.save_checkpoint("fp:last", b"after the blobs")
        store.flush(10)
        assert store.stats().pending_writes == 0
    with RedisStateStore(redis_url, prefix=prefix) as fresh:
        assert fresh.load_checkpoint("fp:last") is not None
        assert all(fresh.blobs.get(i.to_bytes(32, "big")) == b"x" * i for i in range(500))


def test_unreachable_redis_is_a_clear_error() -> None:
    with pytest.raises(
        StateStoreError, match=r"cannot reach Redis at redis://127\.0\.0\.1:1/0:"
    ) as e:
        RedisStateStore("redis://:secret@127.0.0.1:1/0")
    assert "secret" not in str(e.value)


def test_closed_store_refuses(redis_url: str, prefix: str) -> None:
    store = RedisStateStore(redis_url, prefix=prefix)
    store.close()
    with pytest.raises(StateStoreError):
        store.blobs.get(bytes(32))


def test_stored_responses_round_trip_across_processes(redis_url: str, prefix: str) -> None:
    history = (
        ChatMessage("system", "be brief"),
        ChatMessage("user", "look", images=(ImageInput("image/png", b"\x89PNG"),)),
        ChatMessage("assistant", "", tool_calls=(ToolCallRecord("call_1", "read", '{"p":1}'),)),
        ChatMessage("tool", "result", tool_call_id="call_1", is_error=True),
    )
    one = RedisResponseStore(redis_url, ttl=100, prefix=prefix)
    two = RedisResponseStore(redis_url, ttl=100, prefix=prefix)
    one.put("resp_1", {"id": "resp_1", "output": []}, history)
    got = two.get("resp_1")
    assert got is not None and got.body == {"id": "resp_1", "output": []}
    assert got.history == history
    assert len(two) == 1
    assert two.delete("resp_1") and not one.delete("resp_1")
    assert one.get("resp_1") is None
    off = RedisResponseStore(redis_url, max_entries=0, prefix=prefix)
    off.put("resp_2", {}, ())
    assert off.get("resp_2") is None


async def test_pool_state_is_shared(redis_url: str, prefix: str) -> None:
    one, two = RedisPoolState(redis_url, prefix), RedisPoolState(redis_url, prefix)
    try:
        until = time.time() + 0.3
        await one.set_cooldown("acct-a", until)
        assert await two.cooldowns(["acct-a", "acct-b"]) == {"acct-a": until}
        await one.bind("bind:conv", "acct-b")
        assert await two.binding("bind:conv") == "acct-b"
        assert await two.binding("bind:other") is None
        deadline = time.monotonic() + 5
        while await two.cooldowns(["acct-a"]) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert await two.cooldowns(["acct-a"]) == {}, "a cooldown expires when it ends"
    finally:
        await one.aclose()
        await two.aclose()


async def test_one_refresh_per_account_across_processes(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    emulator = EmulatorServer("127.0.0.1", 0, EmulatorOptions(token_lifetime=600))
    await emulator.start()
    states = [RedisPoolState(redis_url, prefix) for _ in range(2)]
    try:
        endpoints = AuthEndpoints.for_backend(emulator.url)
        async with AuthClient(endpoints) as client:
            pair = await exchange_api_key(client, "crsr_shared_key")
        store = TokenStore(tmp_path / "accounts")
        save_login(store, emulator.url, pair, "api-key", api_key="crsr_shared_key")
        path = store.accounts()[0][0]
        emulator.auth.advance_clock(900)  # the service refuses the token now
        clients = [AuthClient(endpoints) for _ in states]
        # Two "processes": each its own provider, client and Redis connection.
        providers = [
            AccountTokenProvider(store, path, c, shared_lock=s.refresh_lock)
            for c, s in zip(clients, states, strict=True)
        ]
        stale = providers[0].account.access_token
        results = await asyncio.gather(*(p.on_unauthenticated(stale) for p in providers))
        assert results == [True, True]
        assert emulator.counters.refreshes == 1
        assert sum(p.refreshes for p in providers) == 1
        assert providers[0].account.access_token == providers[1].account.access_token != stale
        for c in clients:
            await c.aclose()
    finally:
        for s in states:
            await s.aclose()
        await emulator.stop()


async def test_pool_state_without_redis_is_a_503_not_a_crash() -> None:
    state = RedisPoolState("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(ConnectError) as failed:
            await state.cooldowns(["acct"])
        assert failed.value.code == "unavailable" and "Redis" in failed.value.message
        with pytest.raises(ConnectError):
            await state.bind("bind:x", "acct")
    finally:
        await state.aclose()


def test_recent_checkpoints_in_memory_are_bounded_by_bytes_least_recent_first(
    redis_url: str, prefix: str
) -> None:
    """The same bookkeeping as the SQLite store (store.cache.RecentCheckpoints): a
    re-saved conversation becomes the most recent, the least recent goes first."""
    with RedisStateStore(redis_url, prefix=prefix, recent_checkpoint_bytes=800) as store:
        # 100 bytes each: room for eight. b is the least recent when the ninth comes.
        for key in ["fp:a", "fp:b", "fp:a", *(f"fp:{n}" for n in range(7))]:
            store.save_turn(key, key.encode().ljust(100, b"."), {})
        assert store.peek_checkpoint("fp:b") is None
        assert store.peek_checkpoint("fp:a") is not None
        assert all(store.peek_checkpoint(f"fp:{n}") is not None for n in range(7))
        store.flush(5)
        assert store.load_checkpoint("fp:b") is not None, "still in Redis"


def test_a_turn_saved_as_one_unit(redis_url: str, prefix: str) -> None:
    with (
        RedisStateStore(redis_url, prefix=prefix) as one,
        RedisStateStore(redis_url, prefix=prefix) as two,
    ):
        blob = bytes(range(1, 33))
        one.save_turn("fp:t", b"ckpt", {"conversation_id": "c"}, blobs={blob: b"turn blob"})
        peeked = one.peek_checkpoint("fp:t")
        assert peeked is not None and peeked.checkpoint == b"ckpt"
        assert two.peek_checkpoint("fp:t") is None, "not in that process's memory"
        one.flush(5)
        loaded = two.load_checkpoint("fp:t")
        assert loaded is not None and loaded.meta == {"conversation_id": "c"}
        assert two.blobs.get(blob) == b"turn blob"
        one.drop_conversation("fp:t")
        assert one.peek_checkpoint("fp:t") is None


def pool_member(name: str) -> PoolMember:
    async def token() -> str:
        return f"token-{name}"

    return PoolMember(f"acct-{name}", name, token)


async def test_least_loaded_counts_every_process(redis_url: str, prefix: str) -> None:
    """Two "processes" (two pools, each its own Redis client, one clock): turns running in
    one steer the other's new conversations; leases that are renewed stay counted, and a
    process that dies stops counting once its leases lapse."""
    clock = Clock(1_000_000.0)
    states = [RedisPoolState(redis_url, prefix, load_ttl=60) for _ in range(2)]
    for state in states:
        state.load.clock = clock
    one, two = (AccountPool([pool_member("a"), pool_member("b")], s) for s in states)
    try:
        a1 = one.members[0]
        leases = [await one.begin(a1) for _ in range(2)]  # two long turns on a, in one
        assert all(leases)
        ttl = redis.Redis.from_url(redis_url).pttl(f"{prefix}load:acct-a")
        assert 0 < ttl <= 120_000, "the set itself expires when nobody writes it"
        b2 = two.members[1]
        assert await two.choose("conv-1") is b2, "a is busier, though not in this process"
        lease_b = await two.begin(b2)
        assert await states[1].loads(["acct-a", "acct-b"]) == {"acct-a": 2, "acct-b": 1}

        clock.now += 50  # both processes renew their running turns' leases
        await asyncio.gather(*(s.load.renew() for s in states))
        clock.now += 50  # past the first expiry: still counted
        assert await states[0].loads(["acct-a", "acct-b"]) == {"acct-a": 2, "acct-b": 1}
        await one.end(a1, leases[0])
        assert a1.in_flight == 1
        assert await states[1].loads(["acct-a"]) == {"acct-a": 1}

        await states[0].load.aclose()  # process one "crashes": its lease is never released
        clock.now += 50
        await states[1].load.renew()  # process two lives on
        clock.now += 50
        assert await states[1].loads(["acct-a", "acct-b"]) == {"acct-a": 0, "acct-b": 1}
        assert await two.choose("conv-2") is two.members[0], "a is least loaded again"
        await two.end(b2, lease_b)
        raw = redis.Redis.from_url(redis_url)
        assert raw.zcard(f"{prefix}load:acct-b") == 0
        assert raw.exists(f"{prefix}load:acct-a") == 0, "an emptied set is gone"
    finally:
        for state in states:
            await state.aclose()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_load_without_redis_is_not_counted_and_fails_nothing() -> None:
    state = RedisPoolState("redis://127.0.0.1:1/0")
    pool = AccountPool([pool_member("a")], state)
    try:
        a = pool.members[0]
        assert await pool.begin(a) == "", "no lease taken, and no failed turn"
        assert a.in_flight == 1
        assert await state.loads(["acct-a"]) is None, "the pool then counts this process's"
        await pool.end(a, "")
        assert a.in_flight == 0
    finally:
        await state.aclose()
