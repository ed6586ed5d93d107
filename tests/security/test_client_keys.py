"""Client API keys: stored hashed, required once any exists, 401 in the caller's dialect."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cursor_bridge.cli import main
from cursor_bridge.server.app import create_app
from cursor_bridge.server.client_keys import ClientKey, ClientKeys, ClientKeyStore
from cursor_bridge.server.guards import Guards
from tests.conftest import Stack
from tests.support.bridge_apps import serve
from tests.support.stat_calls import count_stats

CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "/reply hello"}]}
MESSAGES = {**CHAT, "max_tokens": 10}


def test_keys_cli_stores_only_hashes_privately() -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--name", "laptop"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("cbk_") and len(key) > 40
    path = ClientKeyStore().path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = path.read_text()
    assert key not in stored and hashlib.sha256(key.encode()).hexdigest() in stored
    listed = runner.invoke(main, ["keys", "list"])
    assert "laptop" in listed.stdout and key not in listed.stdout
    (record,) = ClientKeyStore().load()
    revoked = runner.invoke(main, ["keys", "revoke", record.id])
    assert revoked.exit_code == 0 and ClientKeyStore().load() == []
    missing = runner.invoke(main, ["keys", "revoke", "nope"])
    assert missing.exit_code != 0 and "no key" in missing.output


def test_no_keys_means_loopback_clients_need_none(stack: Stack) -> None:
    assert httpx.post(stack.bridge_url + "/v1/chat/completions", json=CHAT).status_code == 200


@pytest.fixture
def keyed(stack: Stack, tmp_path: Path) -> tuple[str, ClientKeyStore, str]:
    store = ClientKeyStore(tmp_path / "keys.json")
    key, _ = store.create("test")
    return key, store, ""


def test_once_a_key_exists_every_request_needs_one(
    stack: Stack, keyed: tuple[str, ClientKeyStore, str]
) -> None:
    key, store, _ = keyed
    app = create_app(stack.backend, guards=Guards(keys=ClientKeys(store)))
    with serve(stack, app) as url:
        missing = httpx.post(url + "/v1/chat/completions", json=CHAT)
        assert missing.status_code == 401
        assert missing.json()["error"]["type"] == "authentication_error"
        assert missing.json()["error"]["code"] == "invalid_api_key"
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = httpx.post(url + "/v1/messages", json=MESSAGES, headers={"x-api-key": "cbk_no"})
        assert wrong.status_code == 401
        assert wrong.json()["type"] == "error"
        assert wrong.json()["error"]["type"] == "authentication_error"
        cursor = httpx.post(url + "/cursor/chat/completions", json=CHAT)
        assert cursor.status_code == 401 and cursor.json()["error"]["code"] == "invalid_api_key"
        assert httpx.get(url + "/v1/models").status_code == 401
        assert httpx.get(url + "/metrics").status_code == 401
        assert httpx.get(url + "/health").status_code == 200
        bearer = {"authorization": f"Bearer {key}"}
        assert (
            httpx.post(url + "/v1/chat/completions", json=CHAT, headers=bearer).status_code == 200
        )
        assert httpx.get(url + "/metrics", headers=bearer).status_code == 200
        anthropic = httpx.post(url + "/v1/messages", json=MESSAGES, headers={"x-api-key": key})
        assert anthropic.status_code == 200
        # Revoking takes effect on the running server.
        (record,) = store.load()
        store.revoke(record.id)
        # No key left: loopback is open again; a new key closes it at once.
        assert httpx.get(url + "/v1/models").status_code == 200
        second, _ = store.create("second")
        assert httpx.get(url + "/v1/models", headers=bearer).status_code == 401
        assert httpx.get(url + "/v1/models", headers={"x-api-key": second}).status_code == 200


def test_keys_from_the_environment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_BRIDGE_API_KEYS", "env-key-1, env-key-2")
    with serve(stack, create_app(stack.backend)) as url:
        assert httpx.get(url + "/v1/models").status_code == 401
        for key in ("env-key-1", "env-key-2"):
            headers = {"authorization": f"Bearer {key}"}
            assert httpx.get(url + "/v1/models", headers=headers).status_code == 200


def test_clients_work_unchanged_with_their_api_key_setting(stack: Stack, tmp_path: Path) -> None:
    import anthropic
    import openai

    store = ClientKeyStore(tmp_path / "keys.json")
    key, _ = store.create("sdk")
    with serve(stack, create_app(stack.backend, guards=Guards(keys=ClientKeys(store)))) as url:
        oa = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
        answer = oa.chat.completions.create(model="gpt-5.4", messages=CHAT["messages"])
        assert answer.choices[0].message.content == "hello"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()
        an = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0)
        message = an.messages.create(model="gpt-5.4", max_tokens=10, messages=CHAT["messages"])
        assert message.content[0].text == "hello"  # type: ignore[union-attr]
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0).messages.create(
                model="gpt-5.4", max_tokens=10, messages=CHAT["messages"]
            )


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", "serve", "--emulator", "--port", "0", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_refuses_a_public_address_without_keys() -> None:
    refused = _serve("--host", "0.0.0.0")
    _, err = refused.communicate(timeout=60)
    assert refused.returncode != 0
    assert "without client keys" in err and "--insecure-no-auth" in err


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--insecure-no-auth",), {}),
        ((), {"CURSOR_BRIDGE_API_KEYS": "k1"}),
        ((), {"CURSOR_BRIDGE_CONFIG": "CONFIG_FILE"}),
    ],
)
def test_serve_on_a_public_address_with_keys_or_the_explicit_flag(
    args: tuple[str, ...], env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('api_keys = ["from-config"]\n')
    env = {k: str(config) if v == "CONFIG_FILE" else v for k, v in env.items()}
    process = _serve("--host", "0.0.0.0", *args, env=env)
    try:
        assert process.stdout is not None
        banner = ""
        while "listening on" not in banner:  # the banner may take several lines
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            banner += line
        if "CURSOR_BRIDGE_CONFIG" in env:
            port = banner.split("listening on ")[1].split("/")[2].rsplit(":", 1)[1]
            url = f"http://127.0.0.1:{port}/v1/models"
            assert httpx.get(url, timeout=10).status_code == 401
            headers = {"authorization": "Bearer from-config"}
            assert httpx.get(url, headers=headers, timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(30)


def test_check_answers_from_one_look_at_the_file_and_follows_revocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ClientKeyStore(tmp_path / "keys.json")
    key, record = store.create("one")
    keys = ClientKeys(store)
    looks = count_stats(monkeypatch)
    required, matched = keys.check([key, "cbk_wrong", key])
    assert required and [m.id for m in matched] == [record.id, record.id]
    assert looks == [str(store.path)]
    assert (required, matched[:1]) == (keys.required(), [keys.match(key)])
    store.revoke(record.id)
    assert keys.check([key]) == (False, [])


async def test_requests_of_one_loop_iteration_share_a_look_and_the_next_sees_a_revocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server shares one `stat` among the requests of a loop iteration (auth/loop_stat.py);
    a request queued after a revocation is refused."""
    store = ClientKeyStore(tmp_path / "keys.json")
    key, record = store.create("one")
    keys = ClientKeys(store)
    looks = count_stats(monkeypatch)
    assert keys.check([key])[1] == [keys.check([key])[1][0]]
    assert len(looks) == 1
    store.revoke(record.id)
    answers: list[tuple[bool, list[ClientKey]]] = []
    asyncio.get_running_loop().call_soon(lambda: answers.append(keys.check([key])))
    await asyncio.sleep(0)
    assert answers == [(False, [])]
    assert looks.count(str(store.path)) == 2
