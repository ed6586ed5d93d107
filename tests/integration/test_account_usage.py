"""Each account's usage and limits as the backend reports them (GetCurrentPeriodUsage),
against an emulator with two users: read at start and after a limit, never per request;
shown in the response header, /metrics, /status and `status --json`; an outage of the usage
service is tolerated and shown, with the last good figures kept."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cursor_bridge.auth.pool import AccountPool
from cursor_bridge.cli import main
from cursor_bridge.compose import BuiltBackend, open_live_backend
from cursor_bridge.config import Settings
from cursor_bridge.emulator import EmulatorOptions
from cursor_bridge.emulator.dashboard import UsagePlan
from cursor_bridge.emulator.limits import EmulatedAccount
from cursor_bridge.server.account_headers import ACCOUNT_HEADER, PERIOD_USAGE_HEADER
from cursor_bridge.server.app import create_app
from tests.integration.test_account_pool import start_emulator
from tests.integration.test_accounts_flow import read_until
from tests.support.polling import wait_until
from tests.support.threaded_emulator import ThreadedEmulator, threaded_emulator

ALICE = EmulatedAccount("crsr_usage_alice_key", "alice", "alice@example.com")
BOB = EmulatedAccount("crsr_usage_bob_key", "bob", "bob@example.com")
PLAN = UsagePlan(plan_limit=2000, run_cost=25, on_demand_limit=1000)


@pytest.fixture
def emulator() -> Iterator[ThreadedEmulator]:
    options = EmulatorOptions(
        require_auth=True, accounts=(ALICE, BOB), run_limit=3, run_limit_window=300, usage=PLAN
    )
    with threaded_emulator(options) as emu:
        yield emu


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def login_both(url: str) -> None:
    for account in (ALICE, BOB):
        args = ("login", "--api-key", account.api_key, "--label", account.account_id)
        assert cli(*args, "--backend-url", url).exit_code == 0


def reports(emulator: ThreadedEmulator) -> int:
    return int(emulator.server.dashboard.reports)


def set_fault(emulator: ThreadedEmulator, fault: str | None) -> None:
    body = json.dumps({"fault": fault}).encode()
    answer = httpx.post(f"{emulator.url}/emulator/usage", content=body)
    assert answer.status_code == 200


@pytest.fixture
async def live(emulator: ThreadedEmulator) -> AsyncIterator[BuiltBackend]:
    await asyncio.to_thread(login_both, emulator.url)
    opened = await open_live_backend(
        Settings(backend_url=emulator.url, persist_state=False), discover=False
    )
    try:
        yield opened
    finally:
        await opened.aclose()


def pool_of(live: BuiltBackend) -> AccountPool:
    pool = live.backend.config.accounts
    assert pool is not None
    return pool


def chat(text: str) -> dict[str, Any]:
    return {"model": "gpt-5.4", "messages": [{"role": "user", "content": f"/reply {text}"}]}


async def test_usage_is_read_at_start_and_after_a_limit_never_per_request(
    emulator: ThreadedEmulator, live: BuiltBackend
) -> None:
    pool = pool_of(live)
    await wait_until(lambda: all(m.period_usage is not None for m in pool.members), timeout=10)
    assert reports(emulator) == 2, "one report per account at start"
    app = create_app(live.backend, mode="cursor")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as bridge:
        served: list[str] = []
        for i in range(6):  # 3 Runs per account: both limits used up, nothing refused yet
            reply = await bridge.post("/v1/chat/completions", json=chat(str(i)))
            assert reply.status_code == 200, reply.text
            served.append(reply.headers[ACCOUNT_HEADER])
            header = reply.headers[PERIOD_USAGE_HEADER]
            assert re.fullmatch(
                r"plan=0/2000; plan_remaining=2000; on_demand=0/1000; "
                r"cycle_end=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; age=\d+s",
                header,
            ), header
        assert sorted(served) == ["alice"] * 3 + ["bob"] * 3
        assert reports(emulator) == 2, "requests never ask for the report"

        # The seventh turn is refused for the Run limit on both accounts in turn: each cools
        # down, and each report is asked for again soon (3 Runs x 25 cents each).
        refused = await bridge.post("/v1/chat/completions", json=chat("seven"))
        assert refused.status_code == 429
        assert [m.limit_hits for m in pool.members] == [1, 1]

        def spent() -> list[int]:
            return [m.period_usage.plan_used if m.period_usage else -1 for m in pool.members]

        await wait_until(lambda: spent() == [75, 75], timeout=10)
        assert reports(emulator) == 4
        cooled = "alice"
        metrics = (await bridge.get("/metrics")).text
        assert f'cursor_bridge_account_plan_used{{account="{cooled}"}} 75.0' in metrics
        assert f'cursor_bridge_account_plan_limit{{account="{cooled}"}} 2000.0' in metrics
        assert f'cursor_bridge_account_on_demand_limit{{account="{cooled}"}} 1000.0' in metrics
        assert f'cursor_bridge_account_usage_report_ok{{account="{cooled}"}} 1.0' in metrics
        assert 'cursor_bridge_account_billing_cycle_end_timestamp_seconds{account="alice"}' in (
            metrics
        )
        assert 'cursor_bridge_requests_total{dialect="openai-chat",status="200"} 6.0' in metrics
        assert 'cursor_bridge_requests_total{dialect="openai-chat",status="429"} 1.0' in metrics
        assert "crsr_" not in metrics and "@example.com" not in metrics and "Bearer" not in metrics

        page = (await bridge.get("/status")).text
        assert "<th>plan used / limit</th>" in page
        assert page.count("$0.75 / $20.00") == 2 and "$0.00 / $10.00" in page
        assert "ago</td>" in page


async def test_an_outage_of_the_usage_service_is_tolerated_and_shown(
    emulator: ThreadedEmulator, live: BuiltBackend
) -> None:
    pool = pool_of(live)
    await wait_until(lambda: all(m.period_usage is not None for m in pool.members), timeout=10)
    await asyncio.to_thread(set_fault, emulator, "unavailable")
    watch = live.usage
    assert watch is not None
    for member in pool.members:
        watch.due(member)
    await wait_until(lambda: all(m.usage_error for m in pool.members), timeout=10)
    app = create_app(live.backend, mode="cursor")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as bridge:
        reply = await bridge.post("/v1/chat/completions", json=chat("still served"))
        assert reply.status_code == 200, "a failed usage report never fails a turn"
        header = reply.headers[PERIOD_USAGE_HEADER]
        assert header.startswith("plan=0/2000; ")  # the last good figures stay
        assert "error=HTTP 503 unavailable: usage service unavailable (emulator fault)" in header
        metrics = (await bridge.get("/metrics")).text
        assert 'cursor_bridge_account_usage_report_ok{account="alice"} 0.0' in metrics
        assert 'cursor_bridge_account_plan_used{account="alice"} 0.0' in metrics
        page = (await bridge.get("/status")).text
        assert "<span class='bad'>failed: HTTP 503 unavailable" in page

    report = json.loads(
        (await asyncio.to_thread(cli, "status", "--json", "--backend-url", emulator.url)).stdout
    )
    assert [a["usage"] for a in report["accounts"]] == [
        {"error": "HTTP 503 unavailable: usage service unavailable (emulator fault)"}
    ] * 2
    await asyncio.to_thread(set_fault, emulator, None)
    report = json.loads(
        (await asyncio.to_thread(cli, "status", "--json", "--backend-url", emulator.url)).stdout
    )
    usage = {a["label"]: a["usage"] for a in report["accounts"]}
    assert usage["alice"]["plan_used"] == 0 and usage["alice"]["plan_limit"] == 2000
    assert usage["bob"]["on_demand_limit"] == 1000 and usage["bob"]["unit"] == "cents (inferred)"
    human = (await asyncio.to_thread(cli, "status", "--backend-url", emulator.url)).stdout
    assert re.search(
        r"Usage:     alice: plan \$0\.00 / \$20\.00, on-demand \$0\.00 / \$10\.00, "
        r"period ends \d{4}-\d\d-\d\d",
        human,
    ), human


def test_emulator_command_takes_the_usage_limits() -> None:
    proc = start_emulator(
        "--account", "crsr_dave_key:dave", "--plan-limit", "500", "--on-demand-limit", "50"
    )
    try:
        match, _ = read_until(proc, r"listening on (http://127\.0\.0\.1:\d+)")
        url = match.group(1)
        assert cli("login", "--api-key", "crsr_dave_key", "--backend-url", url).exit_code == 0
        report = json.loads(cli("status", "--json", "--backend-url", url).stdout)
        usage = report["accounts"][0]["usage"]
        assert (usage["plan_used"], usage["plan_limit"], usage["on_demand_limit"]) == (0, 500, 50)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    bad = subprocess.run(
        [sys.executable, "-m", "cursor_bridge", "emulator", "--usage-fault", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "not a Connect code" in bad.stderr


async def test_turns_on_the_in_process_pool_state_pass_no_pool_coroutine(
    live: BuiltBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-process state is `local`: a turn chooses, begins and ends synchronously (and
    still counts the turn and returns it), so the awaiting forms are never called."""
    pool = pool_of(live)
    assert pool.local

    async def refused(*args: object, **kwargs: object) -> object:
        raise AssertionError("the general path was taken")

    for name in ("choose", "begin", "end"):
        monkeypatch.setattr(AccountPool, name, refused)
    app = create_app(live.backend, mode="cursor")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as bridge:
        for i in range(2):
            reply = await bridge.post("/v1/chat/completions", json=chat(f"fast {i}"))
            assert reply.status_code == 200, reply.text
    assert sorted(m.requests for m in pool.members) == [1, 1]  # least loaded: one each
    assert all(m.in_flight == 0 for m in pool.members)
