"""Several accounts behind one bridge, against an emulator with two users and a Run limit:
`login --label`, `status --json` accounts, least-loaded placement, conversation binding, a
limited account cooling down and traffic moving on, and 429 with rate-limit headers in each
dialect when every account is cooling (at once, never a hang)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cursor_bridge.auth.restrictions import Restriction, RestrictionStore
from cursor_bridge.cli import main
from cursor_bridge.compose import open_live_backend
from cursor_bridge.config import Settings
from cursor_bridge.emulator import EmulatorOptions
from cursor_bridge.emulator.limits import EmulatedAccount
from cursor_bridge.server.account_headers import ACCOUNT_HEADER, USAGE_HEADER
from cursor_bridge.server.app import create_app
from cursor_bridge.server.client_keys import ClientKeys, ClientKeyStore
from cursor_bridge.server.guards import Guards
from tests.integration.test_accounts_flow import read_until
from tests.support.threaded_emulator import ThreadedEmulator, threaded_emulator

ALICE = EmulatedAccount("crsr_alice_key_1", "alice", "alice@example.com")
BOB = EmulatedAccount("crsr_bob_key_2", "bob", "bob@example.com")
WINDOW = 120.0


@pytest.fixture
def emulator() -> Iterator[ThreadedEmulator]:
    options = EmulatorOptions(
        require_auth=True, accounts=(ALICE, BOB), run_limit=3, run_limit_window=WINDOW
    )
    with threaded_emulator(options) as emu:
        yield emu


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def login_both(url: str) -> None:
    for account, label in ((ALICE, "alice"), (BOB, "bob")):
        result = cli("login", "--api-key", account.api_key, "--label", label, "--backend-url", url)
        assert result.exit_code == 0, result.output
        assert f"as {label}" in result.stdout


@pytest.fixture
async def bridge(emulator: ThreadedEmulator) -> AsyncIterator[httpx.AsyncClient]:
    await asyncio.to_thread(login_both, emulator.url)  # the CLI runs its own event loop
    settings = Settings(backend_url=emulator.url, persist_state=False)
    live = await open_live_backend(settings, discover=False)
    app = create_app(live.backend, mode="cursor", restriction_for=restriction_by_header)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await live.aclose()


def restriction_by_header(scope: Any) -> tuple[str | None, Restriction | None]:
    """Stands in for the client-key check: `x-test-key` names a key of RESTRICTIONS."""
    key = dict(scope["headers"]).get(b"x-test-key", b"").decode() or None
    return key, RESTRICTIONS.get(key or "")


RESTRICTIONS = {
    "bob-only": Restriction(accounts=frozenset({"bob"})),
    "gpt-only": Restriction(models=frozenset({"gpt-5.4"})),
}


def runs_by(emulator: ThreadedEmulator) -> dict[str, int]:
    counts = emulator.server.limits.runs
    return {name: counts[f"auth0|user_{name}"] for name in ("alice", "bob")}


def chat(text: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
    messages = [*(history or []), {"role": "user", "content": f"/reply {text}"}]
    return {"model": "claude-4.6-sonnet", "messages": messages}


def test_status_json_lists_every_account(emulator: ThreadedEmulator) -> None:
    login_both(emulator.url)
    result = cli("status", "--json", "--backend-url", emulator.url)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    labels = sorted(a["label"] for a in report["accounts"])
    assert labels == ["alice", "bob"]
    ids = sorted(a["account_id"] for a in report["accounts"])
    assert ids == ["auth0|user_alice", "auth0|user_bob"]
    assert all("crsr_" not in json.dumps(a) for a in report["accounts"])
    human = cli("status", "--backend-url", emulator.url)
    assert "Pool:      2 accounts" in human.stdout


async def test_placement_binding_cooldown_and_429(
    emulator: ThreadedEmulator, bridge: httpx.AsyncClient
) -> None:
    # Two new conversations go to the two accounts (least loaded first).
    first = await bridge.post("/v1/chat/completions", json=chat("one"))
    second = await bridge.post("/v1/chat/completions", json=chat("two"))
    assert first.status_code == second.status_code == 200
    served = {first.headers[ACCOUNT_HEADER], second.headers[ACCOUNT_HEADER]}
    assert served == {"alice", "bob"}
    assert runs_by(emulator) == {"alice": 1, "bob": 1}
    assert "requests=1" in first.headers[USAGE_HEADER]

    # The first conversation's next turns stay on its account, even when it is busier.
    owner = first.headers[ACCOUNT_HEADER]
    other = "bob" if owner == "alice" else "alice"
    history = [
        {"role": "user", "content": "/reply one"},
        {"role": "assistant", "content": first.json()["choices"][0]["message"]["content"]},
    ]
    for turn in ("again", "third"):
        reply = await bridge.post("/v1/chat/completions", json=chat(turn, history))
        assert reply.status_code == 200, reply.text
        assert reply.headers[ACCOUNT_HEADER] == owner
        history += [
            {"role": "user", "content": f"/reply {turn}"},
            {"role": "assistant", "content": turn},
        ]
    assert runs_by(emulator)[owner] == 3  # its limit (3 per window) is used up

    # Its fourth turn is refused by the backend: the account cools down for the time the
    # backend gave, and the conversation moves to the other account without the client
    # seeing anything.
    moved = await bridge.post("/v1/chat/completions", json=chat("moved", history))
    assert moved.status_code == 200, moved.text
    assert moved.headers[ACCOUNT_HEADER] == other
    pool = bridge.app.state.backend.config.accounts  # type: ignore[attr-defined]
    assert pool.moved == 1
    rows = {r.label: r for r in pool.snapshot()}
    assert rows[owner].healthy is False and rows[owner].limit_hits == 1
    assert 0 < rows[owner].cooling_seconds <= WINDOW
    # New traffic no longer tries the cooling account.
    before = emulator.server.limits.refused
    fresh = await bridge.post("/v1/chat/completions", json=chat("new"))
    assert fresh.headers[ACCOUNT_HEADER] == other
    assert emulator.server.limits.refused == before

    # The other account runs out too: every account cools, the client gets 429 at once,
    # in its own dialect, with Retry-After and rate-limit headers.
    started = time.monotonic()
    refused = await bridge.post("/v1/chat/completions", json=chat("too many"))
    assert refused.status_code == 429, refused.text
    assert time.monotonic() - started < 5
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert "every Cursor account" in error["message"]
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= WINDOW
    assert refused.headers["x-ratelimit-limit-requests"] == "2"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"] == f"{retry}s"
    assert ACCOUNT_HEADER not in refused.headers, "no account served it"

    anthropic = await bridge.post(
        "/v1/messages",
        json={
            "model": "claude-4.6-sonnet",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "/reply hi"}],
        },
    )
    assert anthropic.status_code == 429
    assert anthropic.json()["type"] == "error"
    assert anthropic.json()["error"]["type"] == "rate_limit_error"
    assert anthropic.headers["retry-after"] and anthropic.headers["request-id"]
    assert anthropic.headers["anthropic-ratelimit-requests-remaining"] == "0"
    streamed = await bridge.post("/v1/chat/completions", json={**chat("stream"), "stream": True})
    assert streamed.status_code == 429 and "x-ratelimit-reset-requests" in streamed.headers
    # Cooling accounts are not asked again while they cool.
    assert emulator.server.limits.refused == before + 1
    metrics = (await bridge.get("/metrics")).text
    assert f'cursor_bridge_account_healthy{{account="{owner}"}} 0.0' in metrics
    assert f'cursor_bridge_account_limit_hits_total{{account="{other}"}} 1.0' in metrics
    assert f'cursor_bridge_account_requests_total{{account="{owner}"}}' in metrics


async def test_key_restrictions(emulator: ThreadedEmulator, bridge: httpx.AsyncClient) -> None:
    for text in ("one", "two", "three"):
        reply = await bridge.post(
            "/v1/chat/completions", json=chat(text), headers={"x-test-key": "bob-only"}
        )
        assert reply.status_code == 200 and reply.headers[ACCOUNT_HEADER] == "bob"
    assert runs_by(emulator) == {"alice": 0, "bob": 3}
    refused = await bridge.post(
        "/v1/chat/completions", json=chat("x"), headers={"x-test-key": "gpt-only"}
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "permission_denied"
    assert "may not use the model 'claude-4.6-sonnet'" in refused.json()["error"]["message"]
    allowed = await bridge.post(
        "/v1/chat/completions",
        json={**chat("fine"), "model": "gpt-5.4"},
        headers={"x-test-key": "gpt-only"},
    )
    assert allowed.status_code == 200, allowed.text
    # bob is used up (3 per window) and the key may use no other account: 429, not alice.
    limited = await bridge.post(
        "/v1/chat/completions", json=chat("four"), headers={"x-test-key": "bob-only"}
    )
    assert limited.status_code == 429 and limited.headers["x-ratelimit-limit-requests"] == "1"
    assert runs_by(emulator)["alice"] == 1  # only the gpt-only request went there


def test_emulator_command_serves_several_accounts_with_limits() -> None:
    proc = start_emulator("--account", "crsr_carol_key:carol", "--run-limit", "1")
    try:
        match, _ = read_until(proc, r"listening on (http://127\.0\.0\.1:\d+)")
        url = match.group(1)
        result = cli("login", "--api-key", "crsr_carol_key", "--label", "c", "--backend-url", url)
        assert result.exit_code == 0, result.output
        report = json.loads(cli("status", "--json", "--backend-url", url).stdout)
        assert [a["account_id"] for a in report["accounts"]] == ["auth0|user_carol"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    bad = subprocess.run(
        [sys.executable, "-m", "cursor_bridge", "emulator", "--account", "no-name"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "expected KEY:NAME" in bad.stderr


def start_emulator(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_a_login_while_serving_joins_the_pool(emulator: ThreadedEmulator) -> None:
    def login(account: EmulatedAccount, label: str) -> None:
        args = ["login", "--api-key", account.api_key, "--label", label]
        result = cli(*args, "--backend-url", emulator.url)
        assert result.exit_code == 0, result.output

    await asyncio.to_thread(login, ALICE, "alice")
    live = await open_live_backend(
        Settings(backend_url=emulator.url, persist_state=False), discover=False
    )
    transport = httpx.ASGITransport(app=create_app(live.backend, mode="cursor"))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            first = await client.post("/v1/chat/completions", json=chat("one"))
            assert first.headers[ACCOUNT_HEADER] == "alice"
            await asyncio.to_thread(login, BOB, "bob")
            second = await client.post("/v1/chat/completions", json=chat("two"))
            assert second.headers[ACCOUNT_HEADER] == "bob", "the new login takes new work"
            await asyncio.to_thread(
                cli, "logout", "--label", "alice", "--backend-url", emulator.url
            )
            third = await client.post("/v1/chat/completions", json=chat("three"))
            assert third.headers[ACCOUNT_HEADER] == "bob"
    finally:
        await live.aclose()


async def test_restrictions_by_real_client_key_and_status_needs_a_key(
    emulator: ThreadedEmulator,
) -> None:
    """With the client keys of issue 11: the key the guards matched is the one restricted."""
    await asyncio.to_thread(login_both, emulator.url)
    store = ClientKeyStore()
    secret, key = store.create("bob's team")
    RestrictionStore().set(key.id, Restriction(accounts=frozenset({"bob"})))
    live = await open_live_backend(
        Settings(backend_url=emulator.url, persist_state=False), discover=False
    )
    app = create_app(live.backend, mode="cursor", guards=Guards(keys=ClientKeys(store)))
    transport = httpx.ASGITransport(app=app)
    auth = {"authorization": f"Bearer {secret}"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for text in ("one", "two"):
                reply = await client.post("/v1/chat/completions", json=chat(text), headers=auth)
                assert reply.status_code == 200, reply.text
                assert reply.headers[ACCOUNT_HEADER] == "bob"
            assert runs_by(emulator) == {"alice": 0, "bob": 2}
            assert (await client.get("/status")).status_code == 401
            page = await client.get("/status", headers=auth)
            assert page.status_code == 200 and "<table id='accounts'>" in page.text
    finally:
        await live.aclose()
