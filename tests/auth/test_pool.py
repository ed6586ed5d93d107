"""The account pool's rules in isolation: placement, binding, cooldown from the backend's
time or a doubling backoff, recovery, and per-key restrictions (accounts and models)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from cursor_bridge.auth.pool import (
    AccountPool,
    AllAccountsCooling,
    MemoryPoolState,
    NotAllowed,
    PoolMember,
    is_limit,
)
from cursor_bridge.auth.restrictions import Restriction, RestrictionStore, restriction_lookup
from cursor_bridge.cli import main
from cursor_bridge.protocol.errors import ConnectError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def member(name: str) -> PoolMember:
    async def token() -> str:
        return f"token-{name}"

    return PoolMember(f"id-{name}", name, token)


def pool(*names: str, clock: Clock | None = None) -> AccountPool:
    return AccountPool([member(n) for n in names], MemoryPoolState(), clock=clock or Clock())


async def test_least_loaded_then_bound() -> None:
    p = pool("a", "b")
    a, b = p.members
    a.in_flight = 2
    chosen = await p.choose("conv-1")
    assert chosen is b
    b.in_flight = 5
    assert await p.choose("conv-1") is b, "a bound conversation stays on its account"
    assert await p.choose("conv-2") is a


async def test_cooldown_uses_backend_time_then_recovers() -> None:
    clock = Clock()
    p = pool("a", "b", clock=clock)
    a, b = p.members
    assert await p.choose("c") is a
    until = await p.limited(a, ConnectError("resource_exhausted", "limit", retry_after=40))
    assert until == clock.now + 40
    assert await p.choose("c") is b and p.moved == 1
    await p.limited(b, ConnectError("resource_exhausted", "limit", retry_after=90))
    with pytest.raises(AllAccountsCooling) as cooling:
        await p.choose("d")
    assert cooling.value.retry_after == 40 and cooling.value.code == "resource_exhausted"
    assert cooling.value.headers["x-ratelimit-reset-requests"] == "40s"
    clock.now += 41
    assert await p.choose("d") is a
    assert {r.label: r.healthy for r in p.snapshot()} == {"a": True, "b": False}


async def test_backoff_doubles_without_a_retry_time_and_resets_on_success() -> None:
    clock = Clock()
    p = AccountPool([member("a")], clock=clock, backoff_first=10, backoff_max=25)
    (a,) = p.members
    error = ConnectError("resource_exhausted", "usage limit")
    waits = []
    for _ in range(3):
        waits.append(await p.limited(a, error) - clock.now)
    assert waits == [10, 20, 25]
    p.succeeded(a, 5, 7)
    assert await p.limited(a, error) - clock.now == 10
    assert (a.input_tokens, a.output_tokens) == (5, 7)


def test_what_counts_as_a_limit() -> None:
    assert is_limit(ConnectError("resource_exhausted"))
    assert is_limit(ConnectError("unavailable", http_status=429))
    assert not is_limit(ConnectError("unauthenticated"))
    assert not is_limit(ConnectError("invalid_argument"))


async def test_restrictions_filter_accounts_and_models() -> None:
    p = pool("a", "b")
    only_b = Restriction(accounts=frozenset({"b"}))
    assert (await p.choose("x", only_b)).label == "b"
    by_id = Restriction(accounts=frozenset({"id-a"}))
    assert (await p.choose("y", by_id)).label == "a"
    with pytest.raises(NotAllowed) as refused:
        await p.choose("z", Restriction(accounts=frozenset({"nobody"})))
    assert refused.value.code == "permission_denied"
    models = Restriction(models=frozenset({"gpt-5.4"}))
    assert models.allows_model("gpt-5.4") and models.allows_model("alias", "gpt-5.4")
    assert not models.allows_model("claude-4.6-opus")
    assert Restriction().allows_model("anything")


def test_restriction_store_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "key-restrictions.json"
    store = RestrictionStore(path)
    assert store.get("key_1") is None
    store.set("key_1", Restriction(accounts=frozenset({"alice"}), models=None))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = RestrictionStore(path)
    assert again.get("key_1") == Restriction(accounts=frozenset({"alice"}))
    assert again.all().keys() == {"key_1"}
    assert again.remove("key_1") and not again.remove("key_1")
    assert RestrictionStore(path).get("key_1") is None
    path.write_text('{"k": {"accounts": "alice"}}')
    with pytest.raises(ValueError):
        RestrictionStore(path).get("k")


def test_restriction_lookup_by_key_id_and_fail_closed(tmp_path: Path) -> None:
    store = RestrictionStore(tmp_path / "r.json")
    store.set("key_a", Restriction(models=frozenset({"gpt-5.4"})))
    lookup = restriction_lookup(store)

    class Key:
        id = "key_a"

    assert lookup({"state": {"client_key": Key()}}) == ("key_a", store.get("key_a"))
    assert lookup({"state": {}}) == (None, None)
    assert lookup({}) == (None, None)
    (tmp_path / "r.json").write_text("not json")
    key_id, denied = lookup({"state": {"client_key": Key()}})
    assert key_id == "key_a" and denied == Restriction(accounts=frozenset())


def test_restrict_command(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["restrict", "key_1", "--account", "alice", "--model", "gpt-5.4"])
    assert result.exit_code == 0, result.output
    assert RestrictionStore().get("key_1") == Restriction(
        frozenset({"alice"}), frozenset({"gpt-5.4"})
    )
    listed = runner.invoke(main, ["restrict"])
    assert '"accounts": [\n      "alice"\n    ]' in listed.output
    cleared = runner.invoke(main, ["restrict", "key_1", "--clear"])
    assert "restriction lifted" in cleared.output and RestrictionStore().get("key_1") is None


class SharedLoads(MemoryPoolState):
    """A shared state that reports every process's turns in flight."""

    def __init__(self, loads: dict[str, int]) -> None:
        super().__init__()
        self.shared = loads

    async def loads(self, account_ids: object) -> dict[str, int] | None:
        return self.shared


async def test_shared_load_decides_over_this_process() -> None:
    state = SharedLoads({"id-a": 5, "id-b": 1})
    p = AccountPool([member("a"), member("b")], state, clock=Clock())
    b = p.members[1]
    b.in_flight = 3  # busier here, less busy over all processes
    assert await p.choose("conv") is b
    lease = await p.begin(b)
    assert (b.in_flight, b.requests, lease) == (4, 1, "")
    await p.end(b, lease)
    assert b.in_flight == 3


class AsyncOnly(MemoryPoolState):
    """The same state behind the general (awaiting) path: a subclass is not `local`."""


def twin_pools(clock: Clock) -> tuple[AccountPool, AccountPool]:
    names = ("a", "b", "c")
    local = AccountPool([member(n) for n in names], MemoryPoolState(), clock=clock)
    general = AccountPool([member(n) for n in names], AsyncOnly(), clock=clock)
    return local, general


async def test_the_in_process_fast_path_chooses_as_the_general_path_does() -> None:
    """choose_now (the in-process state, no coroutines) and choose over a state that is
    awaited give the same answers step by step: least loaded, bound, excluded, moved off
    a cooling account, every allowed one cooling, none allowed."""
    clock = Clock()
    local, general = twin_pools(clock)
    assert local.local and not general.local
    with pytest.raises(TypeError):
        general.choose_now("conv")
    bob_only = Restriction(accounts=frozenset({"b"}))
    nobody = Restriction(accounts=frozenset({"z"}))

    async def both(step: str) -> list[object]:
        answers: list[object] = []
        for pool_ in (local, general):
            a, b, c = pool_.members

            async def label(
                key: str, *args: object, on: AccountPool = pool_, **kwargs: object
            ) -> str | None:
                chosen = await on.choose(key, *args, **kwargs)  # type: ignore[arg-type]
                return chosen.label if chosen is not None else None

            try:
                if step == "load":
                    a.in_flight, b.in_flight, c.in_flight = 3, 1, 2
                    answers.append(await label("k1"))
                elif step == "bound":
                    b.in_flight = 9
                    answers.append(await label("k1"))
                elif step == "exclude":
                    answers.append(await label("k2", exclude=["id-c"]))
                elif step == "cool":
                    error = ConnectError("resource_exhausted", "limit", retry_after=30)
                    await pool_.limited(b, error)
                    answers += [await label("k1"), pool_.moved]
                elif step == "restricted":
                    answers.append(await label("k3", bob_only))
                elif step == "nobody":
                    answers.append(await label("k4", nobody))
            except (AllAccountsCooling, NotAllowed) as exc:
                answers.append((type(exc).__name__, exc.retry_after))
        return answers

    assert await both("load") == ["b", "b"]
    # Direct: the synchronous call binds as choose does (k1 is bound to b already).
    assert local.choose_now("k1") is local.members[1]
    assert await both("bound") == ["b", "b"]
    assert await both("exclude") == ["a", "a"]
    assert await both("cool") == ["c", 1, "c", 1]
    assert await both("restricted") == [("AllAccountsCooling", 30), ("AllAccountsCooling", 30)]
    assert await both("nobody") == [("NotAllowed", None), ("NotAllowed", None)]
    assert local.snapshot() == general.snapshot()


async def test_begin_now_and_end_now_count_a_turn_as_begin_and_end_do() -> None:
    local, general = twin_pools(Clock())
    a, a2 = local.members[0], general.members[0]
    assert local.begin_now(a) == await general.begin(a2) == ""
    assert (a.in_flight, a.requests) == (a2.in_flight, a2.requests) == (1, 1)
    local.end_now(a)
    await general.end(a2, "")
    assert a.in_flight == a2.in_flight == 0 and a.requests == 1


def test_no_members_choose_none_at_once() -> None:
    assert AccountPool([], MemoryPoolState()).choose_now("k") is None
