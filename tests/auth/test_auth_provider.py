"""Refresh in the serving path: ahead of expiry, after a refusal, single-flight, and what the
client sees when it cannot be done."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from cursor_bridge.emulator import EmulatorOptions
from tests.support.auth_stack import LIFETIME, AuthStack

PARALLEL = 50


def secrets_of(stack: AuthStack) -> set[str]:
    data = json.loads(stack.path.read_text())
    return {data["access_token"], data["refresh_token"]}


async def warm_up(stack: AuthStack, client: httpx.AsyncClient) -> None:
    """One request so the model catalog is cached; the tests below count Run traffic."""
    response = await stack.chat(client, "/reply warm")
    assert response.status_code == 200, response.text


async def test_parallel_requests_across_expiry_refresh_once_ahead_of_time(
    auth_stack: AuthStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(timeout=30) as client:
        await warm_up(auth_stack, client)
        old = auth_stack.provider.account.access_token
        auth_stack.advance(LIFETIME - 10)  # inside the refresh margin, not yet expired
        replies = await asyncio.gather(
            *(auth_stack.chat(client, f"/reply n{i}") for i in range(PARALLEL))
        )
    assert [r.status_code for r in replies] == [200] * PARALLEL
    texts = {r.json()["choices"][0]["message"]["content"] for r in replies}
    assert texts == {f"n{i}" for i in range(PARALLEL)}
    assert auth_stack.counters.refreshes == 1
    assert auth_stack.provider.refreshes == 1
    assert auth_stack.counters.expired_tokens_rejected == 0
    assert auth_stack.provider.account.access_token != old
    # Written back, so a restart uses the new token.
    assert json.loads(auth_stack.path.read_text())["access_token"] != old
    assert "refreshed the Cursor access token via exchange_user_api_key" in caplog.text
    for secret in {old} | secrets_of(auth_stack):
        assert secret not in caplog.text


async def test_parallel_requests_refused_for_expiry_refresh_once_and_retry(
    auth_stack: AuthStack,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        await warm_up(auth_stack, client)
        # Only the service's clock moves: the bridge still believes its token is valid,
        # sends it, and every Run started with it is refused.
        auth_stack.advance(LIFETIME + 10, bridge=False)
        replies = await asyncio.gather(
            *(auth_stack.chat(client, f"/reply n{i}") for i in range(PARALLEL))
        )
    assert [r.status_code for r in replies] == [200] * PARALLEL
    assert auth_stack.counters.refreshes == 1
    assert 1 <= auth_stack.counters.expired_tokens_rejected <= PARALLEL
    assert auth_stack.counters.runs_completed == PARALLEL + 1


async def test_unary_call_refused_for_expiry_is_retried_after_refresh(
    auth_stack: AuthStack,
) -> None:
    auth_stack.advance(LIFETIME + 10, bridge=False)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(auth_stack.url + "/v1/models")
    assert response.status_code == 200
    assert any(m["id"] == "gpt-5.4" for m in response.json()["data"])
    assert auth_stack.counters.expired_tokens_rejected == 1
    assert auth_stack.counters.refreshes == 1


SLOW = EmulatorOptions(
    require_auth=True, token_lifetime=LIFETIME, heartbeat_interval=0.2, token_latency=0.002
)


@pytest.mark.parametrize("emulator_options", [SLOW])
async def test_streaming_run_survives_a_refresh(auth_stack: AuthStack) -> None:
    body = {
        "model": "claude-4.6-sonnet",
        "stream": True,
        "messages": [{"role": "user", "content": "/tokens 40"}],
    }
    async with httpx.AsyncClient(timeout=30) as client:
        await warm_up(auth_stack, client)
        async with client.stream("POST", auth_stack.url + "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            lines = r.aiter_lines()
            first = [line async for line in _until_content(lines)]
            # While this Run streams, time passes and another request refreshes the token.
            auth_stack.advance(LIFETIME - 10)
            assert (await auth_stack.chat(client, "/reply other")).status_code == 200
            assert auth_stack.counters.refreshes == 1
            rest = [line async for line in lines]
    text = "".join(_content(line) for line in first + rest)
    assert len(text.split()) == 40
    assert rest[-1] == "data: [DONE]" or "data: [DONE]" in rest
    assert auth_stack.counters.runs_failed == 0


async def _until_content(lines):  # type: ignore[no-untyped-def]
    async for line in lines:
        yield line
        if _content(line):
            return


def _content(line: str) -> str:
    if not line.startswith("data: {"):
        return ""
    chunk = json.loads(line[6:])
    choices = chunk.get("choices") or [{}]
    return str(choices[0].get("delta", {}).get("content") or "")


@pytest.mark.parametrize(
    "emulator_options",
    [EmulatorOptions(require_auth=True, token_lifetime=LIFETIME, refresh_endpoints=())],
)
@pytest.mark.parametrize("bridge_clock", [False, True], ids=["refused", "known-expired"])
async def test_failed_refresh_gives_401_telling_to_log_in(
    auth_stack: AuthStack, bridge_clock: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(timeout=30) as client:
        await warm_up(auth_stack, client)
        auth_stack.advance(LIFETIME + 10, bridge=bridge_clock)
        response = await auth_stack.chat(client, "/reply hi")
        again = await auth_stack.chat(client, "/reply hi")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert "cursor-bridge login" in error["message"]
    assert again.status_code == 401
    assert auth_stack.counters.refreshes == 0
    for secret in secrets_of(auth_stack):
        assert secret not in caplog.text
        assert secret not in response.text


async def test_error_after_output_is_not_retried(auth_stack: AuthStack) -> None:
    body = {
        "model": "claude-4.6-sonnet",
        "stream": True,
        "messages": [{"role": "user", "content": "/reply partial\n/fault error unauthenticated"}],
    }
    async with httpx.AsyncClient(timeout=30) as client:
        await warm_up(auth_stack, client)
        response = await client.post(auth_stack.url + "/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert "partial" in response.text
    assert auth_stack.counters.refreshes == 0
    assert auth_stack.counters.runs_opened == 2


async def test_new_login_while_serving_is_picked_up(auth_stack: AuthStack) -> None:
    from cursor_bridge.auth import save_login

    async with httpx.AsyncClient(timeout=30) as client:
        await warm_up(auth_stack, client)
        # `cursor-bridge login` in another terminal writes a new token pair.
        save_login(
            auth_stack.store, auth_stack.emulator.url, auth_stack.emulator.auth.issue(), "browser"
        )
        fresh = json.loads(auth_stack.path.read_text())["access_token"]
        assert (await auth_stack.chat(client, "/reply ok")).status_code == 200
    assert auth_stack.provider.account.access_token == fresh
    assert auth_stack.counters.refreshes == 0
