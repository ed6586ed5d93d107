"""Each refresh candidate against the emulator, the order they are tried in, and the
API-key fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cursor_bridge.auth import (
    REFRESH_CANDIDATES,
    Account,
    AuthClient,
    AuthEndpoints,
    RefreshFailed,
    refresh_account,
    subject,
)
from cursor_bridge.emulator import EmulatorOptions, EmulatorServer

ALL = ("exchange_user_api_key", "refresh", "token")


@pytest.fixture
def options() -> EmulatorOptions:
    return EmulatorOptions(require_auth=True)


@pytest.fixture
async def emulator(options: EmulatorOptions) -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer(options=options) as server:
        yield server


@pytest.fixture
async def client(emulator: EmulatorServer) -> AsyncIterator[AuthClient]:
    async with AuthClient(AuthEndpoints.for_backend(emulator.url)) as auth:
        yield auth


def account_for(emulator: EmulatorServer, api_key: str = "") -> Account:
    pair = emulator.auth.issue()
    return Account(
        emulator.url,
        subject(pair.access_token) or "?",
        "browser",
        pair.access_token,
        pair.refresh_token,
        api_key,
    )


def test_candidates_are_in_the_spec_order() -> None:
    assert [name for name, _ in REFRESH_CANDIDATES] == [
        "exchange_user_api_key",
        "auth/refresh",
        "auth/token",
    ]


@pytest.mark.parametrize(
    ("options", "expected", "counter"),
    [
        (
            EmulatorOptions(refresh_endpoints=ALL),
            "exchange_user_api_key",
            "refreshes_exchange_user_api_key",
        ),
        (
            EmulatorOptions(refresh_endpoints=("exchange_user_api_key",)),
            "exchange_user_api_key",
            "refreshes_exchange_user_api_key",
        ),
        (EmulatorOptions(refresh_endpoints=("refresh",)), "auth/refresh", "refreshes_auth_refresh"),
        (EmulatorOptions(refresh_endpoints=("token",)), "auth/token", "refreshes_auth_token"),
        (
            EmulatorOptions(refresh_endpoints=("refresh", "token")),
            "auth/refresh",
            "refreshes_auth_refresh",
        ),
    ],
    ids=["all-first-wins", "exchange-only", "refresh-only", "token-only", "exchange-missing"],
)
async def test_each_candidate_refreshes(
    emulator: EmulatorServer, client: AuthClient, expected: str, counter: str
) -> None:
    account = account_for(emulator)
    refreshed, used = await refresh_account(client, account)
    assert used == expected
    assert getattr(emulator.counters, counter) == 1
    assert emulator.counters.refreshes == 1
    assert refreshed.access_token != account.access_token
    assert refreshed.refresh_token and refreshed.refreshed_at > 0
    # The new access token works on the backend.
    async with httpx.AsyncClient() as http:
        response = await http.post(
            emulator.url + "/aiserver.v1.ServerConfigService/GetServerConfig",
            headers={
                "authorization": f"Bearer {refreshed.access_token}",
                "content-type": "application/json",
            },
            content=b"{}",
        )
    assert response.status_code == 200


@pytest.mark.parametrize("options", [EmulatorOptions(refresh_endpoints=())])
async def test_api_key_is_exchanged_again_when_no_refresh_call_works(
    emulator: EmulatorServer, client: AuthClient
) -> None:
    account = account_for(emulator, api_key="crsr_abc")
    refreshed, used = await refresh_account(client, account)
    assert used == "api-key"
    assert refreshed.access_token != account.access_token
    assert emulator.counters.api_key_exchanges == 1 and emulator.counters.refreshes == 0


@pytest.mark.parametrize("options", [EmulatorOptions(refresh_endpoints=())])
async def test_all_failing_lists_every_attempt(
    emulator: EmulatorServer, client: AuthClient
) -> None:
    account = account_for(emulator, api_key="crsr_abc")
    account = Account(emulator.url, "x", "browser", "a", account.refresh_token, "wrong-key")
    with pytest.raises(RefreshFailed) as failed:
        await refresh_account(client, account)
    text = str(failed.value)
    for name in ("exchange_user_api_key", "auth/refresh", "auth/token", "API key"):
        assert name in text
    assert account.refresh_token not in text and "wrong-key" not in text


async def test_expired_refresh_token_is_refused(
    emulator: EmulatorServer, client: AuthClient
) -> None:
    account = account_for(emulator)
    emulator.auth.advance_clock(emulator.options.refresh_token_lifetime + 1)
    with pytest.raises(RefreshFailed, match="HTTP 401"):
        await refresh_account(client, account)


async def test_response_without_refresh_token_keeps_the_old_one() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"accessToken": "new-access"})

    transport = httpx.MockTransport(answer)
    async with AuthClient(
        AuthEndpoints("http://mock", "http://mock"), httpx.AsyncClient(transport=transport)
    ) as mock:
        account = Account("http://mock", "id", "browser", "old-access", "old-refresh")
        refreshed, used = await refresh_account(mock, account)
    assert used == "exchange_user_api_key"
    assert (refreshed.access_token, refreshed.refresh_token) == ("new-access", "old-refresh")
