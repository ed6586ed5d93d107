"""The account story end to end, with real subprocesses and sockets: `login --no-browser`
(approved by visiting the printed URL) → `status` → `serve` → chat → the token expires →
transparent refresh → `logout`, with CURSOR_BRIDGE_HOME in a temp dir."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner, Result
from openai import OpenAI

from cursor_bridge.cli import main
from cursor_bridge.emulator import EmulatorOptions
from tests.support.threaded_emulator import ThreadedEmulator, threaded_emulator

LIFETIME = 600.0


@pytest.fixture
def emulator() -> Iterator[ThreadedEmulator]:
    with threaded_emulator(EmulatorOptions(require_auth=True, token_lifetime=LIFETIME)) as emu:
        yield emu


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "CURSOR_BRIDGE_LOGIN_POLL_SCALE": "0.05"}


def cli(*args: str) -> Result:
    """A quick command in-process (login and serve run as real subprocesses)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def read_until(proc: subprocess.Popen[str], pattern: str) -> tuple[re.Match[str], list[str]]:
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, seen
    raise AssertionError(f"{pattern!r} never printed; got {''.join(seen)!r}")


def account_files() -> list[Path]:
    return sorted((Path(os.environ["CURSOR_BRIDGE_HOME"]) / "accounts").glob("*.json"))


def stored_secrets() -> set[str]:
    secrets: set[str] = set()
    for path in account_files():
        data = json.loads(path.read_text())
        secrets |= {data[k] for k in ("access_token", "refresh_token", "api_key") if data[k]}
    return secrets


def login(emulator: ThreadedEmulator) -> str:
    proc = start("login", "--no-browser", "--backend-url", emulator.url)
    try:
        match, _ = read_until(proc, r"^(http://\S+/loginDeepControl\?\S+)$")
        url = match.group(1)
        # A plain HTTP/1.1 GET of the printed URL approves the login, as a browser would.
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and page.http_version == "HTTP/1.1"
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Logged in to" in out and "browser login" in out
    return out + err


def test_login_status_serve_refresh_logout(emulator: ThreadedEmulator) -> None:
    output = login(emulator)
    assert emulator.counters.logins == 1
    files = account_files()
    assert len(files) == 1
    home = Path(os.environ["CURSOR_BRIDGE_HOME"])
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    first_secrets = stored_secrets()

    status = cli("status", "--json", "--backend-url", emulator.url)
    assert status.exit_code == 0, status.output
    report = json.loads(status.stdout)
    assert report["logged_in"] is True
    assert report["account"]["method"] == "browser"
    assert report["account"]["account_id"] == "auth0|user_emulator0001"
    assert report["backend"] == {"reachable": True, "token_accepted": True, "detail": "reachable"}
    expires = report["account"]["expires_at"]
    assert expires is not None and report["account"]["expired"] is False
    human = cli("status", "--backend-url", emulator.url)
    assert human.exit_code == 0 and "auth0|user_emulator0001" in human.stdout
    output += status.output + human.output

    serve = start("serve", "--port", "0", "--backend-url", emulator.url)
    try:
        match, banner = read_until(serve, r"listening on (http://127\.0\.0\.1:\d+/v1)")
        assert "as auth0|user_emulator0001" in banner[-1]
        assert stat.S_IMODE((home / "device.json").stat().st_mode) == 0o600
        client = OpenAI(base_url=match.group(1), api_key="unused", max_retries=0, timeout=20)

        def ask(text: str) -> str | None:
            reply = client.chat.completions.create(
                model="claude-4.6-sonnet", messages=[{"role": "user", "content": f"/reply {text}"}]
            )
            return reply.choices[0].message.content

        assert ask("before expiry") == "before expiry"
        assert emulator.counters.refreshes == 0

        # The access token expires (the emulator's clock jumps past its lifetime); the next
        # request is refused once, the bridge refreshes and retries, the client sees nothing.
        emulator.advance_clock(LIFETIME + 60)
        assert ask("after expiry") == "after expiry"
        assert emulator.counters.expired_tokens_rejected >= 1
        assert emulator.counters.refreshes == 1
        assert emulator.counters.refreshes_exchange_user_api_key == 1
        refreshed = stored_secrets()
        assert refreshed != first_secrets, "the refreshed tokens are written back to the store"
        assert ask("again") == "again"
        assert emulator.counters.refreshes == 1

        logout = cli("logout", "--backend-url", emulator.url)
        assert logout.exit_code == 0 and "Logged out" in logout.stdout
        assert account_files() == []
        with pytest.raises(openai.AuthenticationError) as refused:
            ask("after logout")
        assert "cursor-bridge login" in str(refused.value)
        output += logout.output
    finally:
        serve.send_signal(signal.SIGINT)
        out, err = serve.communicate(timeout=15)
        output += "".join(banner) + out + err
    after = cli("status", "--backend-url", emulator.url)
    assert after.exit_code == 1 and "not logged in" in after.stdout
    for secret in first_secrets | refreshed:
        assert secret not in output


def test_login_ctrl_c_cancels(emulator: ThreadedEmulator) -> None:
    proc = start("login", "--no-browser", "--backend-url", emulator.url)
    read_until(proc, r"loginDeepControl")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert "Login cancelled." in err
    assert account_files() == []


def test_api_key_login_and_models(emulator: ThreadedEmulator) -> None:
    result = cli("login", "--api-key", "crsr_test_key_123", "--backend-url", emulator.url)
    assert result.exit_code == 0, result.output
    assert "(API key)" in result.stdout and "crsr_test_key_123" not in result.stdout
    assert emulator.counters.api_key_exchanges == 1
    listed = cli("models", "--json", "--backend-url", emulator.url)
    assert listed.exit_code == 0, listed.output
    ids = [m["id"] for m in json.loads(listed.stdout)["data"]]
    assert "claude-4.6-opus" in ids and "gpt-5.4" in ids
    bad = cli("login", "--api-key", "not-a-key", "--backend-url", emulator.url)
    assert bad.exit_code == 1 and "refused this API key" in bad.stderr
