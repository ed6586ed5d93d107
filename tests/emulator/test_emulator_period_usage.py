"""DashboardService/GetCurrentPeriodUsage as the emulator serves it: both Connect codecs,
per-user spend that grows with the Runs each user opens, configurable plan and on-demand
limits, a period that rolls over on the emulator's clock, an injected outage, and Runs
refused once an enforced allowance is spent."""

from __future__ import annotations

import base64
import json

import pytest
from emulator_client import H2Client, run_headers
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.emulator.dashboard import ERROR_PRO_USER_USAGE_LIMIT, UsagePlan
from cursor_bridge.emulator.limits import EmulatedAccount
from cursor_bridge.protocol.messages import aiserver
from cursor_bridge.protocol.period_usage import PATH, read_period_usage

ALICE = EmulatedAccount("crsr_usage_alice", "alice", "alice@example.com")
BOB = EmulatedAccount("crsr_usage_bob", "bob", "bob@example.com")
JSON = [("content-type", "application/json"), ("accept", "application/json")]
PROTO = [("content-type", "application/proto"), ("accept", "application/proto")]


def token_of(emulator: EmulatorServer, name: str) -> str:
    return emulator.auth.issue(emulator.auth.users[f"auth0|user_{name}"]).access_token


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


async def run_as(client: H2Client, token: str, text: str = "/reply hi") -> str:
    transcript = await TurnDriver(client, headers=run_headers(token=token)).run(user_request(text))
    return transcript.text


@pytest.fixture
def options() -> EmulatorOptions:
    plan = UsagePlan(plan_limit=10, run_cost=4, on_demand_limit=5)
    return EmulatorOptions(accounts=(ALICE, BOB), usage=plan)


async def test_json_answer_grows_with_each_users_runs(
    emulator: EmulatorServer, client: H2Client
) -> None:
    alice, bob = token_of(emulator, "alice"), token_of(emulator, "bob")
    for _ in range(2):
        assert await run_as(client, alice)
    status, headers, raw = await client.unary(PATH, b"{}", [*JSON, *bearer(alice)])
    assert status == 200 and headers["content-type"] == "application/json"
    body = json.loads(raw)
    assert body["planUsage"] == {"totalSpend": 8, "includedSpend": 8, "remaining": 2, "limit": 10}
    assert isinstance(body["billingCycleStart"], str)  # int64 in proto3 JSON: a string
    usage = read_period_usage(raw)
    assert usage.cycle_end is not None and usage.cycle_start is not None
    assert round(usage.cycle_end - usage.cycle_start) == 30 * 86400
    assert usage.on_demand_enabled and usage.on_demand_used == 0 and usage.on_demand_limit == 5

    # Bob has his own ledger; a third Run of Alice's spills into on-demand spend.
    _, _, raw = await client.unary(PATH, b"{}", [*JSON, *bearer(bob)])
    assert read_period_usage(raw).plan_used == 0
    assert await run_as(client, alice)
    _, _, raw = await client.unary(PATH, b"{}", [*JSON, *bearer(alice)])
    spilled = read_period_usage(raw)
    assert (spilled.plan_used, spilled.plan_remaining) == (10, 0)
    assert (spilled.on_demand_used, spilled.on_demand_remaining) == (2, 3)


async def test_binary_codec_carries_the_same_fields(
    emulator: EmulatorServer, client: H2Client
) -> None:
    token = token_of(emulator, "bob")
    assert await run_as(client, token)
    request = aiserver.GetCurrentPeriodUsageRequest().SerializeToString()
    status, headers, raw = await client.unary(PATH, request, [*PROTO, *bearer(token)])
    assert status == 200 and headers["content-type"] == "application/proto"
    answer = aiserver.GetCurrentPeriodUsageResponse.FromString(raw)
    assert answer.plan_usage.total_spend == 4 and answer.plan_usage.limit == 10
    assert answer.spend_limit_usage.individual_limit == 5
    assert answer.spend_limit_usage.limit_type == "user"


async def test_period_rolls_over_on_the_emulator_clock(
    emulator: EmulatorServer, client: H2Client
) -> None:
    assert await run_as(client, token_of(emulator, "alice"))
    before = read_period_usage(
        (await client.unary(PATH, b"{}", [*JSON, *bearer(token_of(emulator, "alice"))]))[2]
    )
    emulator.auth.advance_clock(31 * 86400)
    token = token_of(emulator, "alice")  # the old one has expired meanwhile
    after = read_period_usage((await client.unary(PATH, b"{}", [*JSON, *bearer(token)]))[2])
    assert before.plan_used == 4 and after.plan_used == 0
    assert after.cycle_start == before.cycle_end


async def test_injected_fault_and_bad_tokens_get_connect_errors(
    emulator: EmulatorServer, client: H2Client
) -> None:
    token = token_of(emulator, "alice")
    status, _, raw = await client.unary(
        "/emulator/usage", json.dumps({"fault": "unavailable"}).encode(), JSON
    )
    assert status == 200 and json.loads(raw)["fault"] == "unavailable"
    status, _, raw = await client.unary(PATH, b"{}", [*JSON, *bearer(token)])
    assert status == 503 and json.loads(raw)["code"] == "unavailable"
    await client.unary("/emulator/usage", b'{"fault": null}', JSON)
    assert (await client.unary(PATH, b"{}", [*JSON, *bearer(token)]))[0] == 200
    status, _, _ = await client.unary(PATH, b"{}", [("content-type", "text/plain")])
    assert status == 415
    for bad in (b'{"fault": 3}', b'{"fault": "no_such_code"}', b"[1]"):
        assert (await client.unary("/emulator/usage", bad, JSON))[0] == 400


@pytest.mark.parametrize("options", [EmulatorOptions(accounts=(ALICE,), require_auth=True)])
async def test_a_bad_token_gets_401(emulator: EmulatorServer, client: H2Client) -> None:
    for headers in (bearer("garbage"), []):
        status, _, raw = await client.unary(PATH, b"{}", [*JSON, *headers])
        assert status == 401 and json.loads(raw)["code"] == "unauthenticated"
    assert (await client.unary(PATH, b"{}", [*JSON, *bearer(token_of(emulator, "alice"))]))[
        0
    ] == 200


@pytest.mark.parametrize(
    "options",
    [EmulatorOptions(accounts=(ALICE,), usage=UsagePlan(plan_limit=8, run_cost=4, enforce=True))],
)
async def test_enforced_allowance_refuses_runs_when_spent(
    emulator: EmulatorServer, client: H2Client
) -> None:
    token = token_of(emulator, "alice")
    for _ in range(2):
        assert await run_as(client, token)
    driver = TurnDriver(client, headers=run_headers(token=token))
    await driver.run(user_request("/reply one more"))
    end = driver.transcript.end
    assert end is not None and end.error is not None
    assert end.error.code == "resource_exhausted" and end.error.retry_after is None
    assert end.error.details == ("aiserver.v1.ErrorDetails",)  # no RetryInfo
    refusal = emulator.dashboard.exhausted("auth0|user_alice")
    assert refusal is not None
    value = aiserver.ErrorDetails.FromString(base64.b64decode(refusal[1][0]["value"] + "=="))
    assert value.error == ERROR_PRO_USER_USAGE_LIMIT
    _, _, raw = await client.unary(PATH, b"{}", [*JSON, *bearer(token)])
    assert read_period_usage(raw).message == "You've hit your usage limit."
    assert emulator.limits.runs["auth0|user_alice"] == 2  # the refused Run cost nothing
