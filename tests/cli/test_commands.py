"""`models`, `status` and `setup` work on a machine with no login (the built-in emulator), and
`serve` shows where to connect and logs every request (real subprocesses, real sockets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cursor_bridge import accounts_cli
from cursor_bridge.cli import main
from cursor_bridge.invocation import CLONE_PREFIX, command_name
from cursor_bridge.live import Reachability
from cursor_bridge.protocol.headers import ClientIdentity


def test_models_without_login_lists_the_builtin_emulators() -> None:
    result = CliRunner().invoke(main, ["models", "--json"])
    assert result.exit_code == 0, result.output
    assert "BUILT-IN EMULATOR" in result.stderr
    ids = [m["id"] for m in json.loads(result.stdout)["data"]]
    assert "default" in ids and "claude-4.6-sonnet" in ids and "gpt-5.4" in ids


def test_status_without_login_says_serve_would_use_the_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An unreachable backend URL that is not Cursor's: serve would use it, without a login.
    other = CliRunner().invoke(main, ["status", "--json", "--backend-url", "http://127.0.0.1:9"])
    assert other.exit_code == 1
    assert json.loads(other.stdout)["serve_backend"] == "http://127.0.0.1:9"

    # Cursor's real API without a login: serve would use the emulator. (Tests never reach
    # Cursor: the reachability probe is replaced.)
    async def offline(*_: object) -> Reachability:
        return Reachability(False, None, "unreachable: offline test")

    monkeypatch.setattr(accounts_cli, "probe", offline)
    monkeypatch.setattr(accounts_cli, "live_identity", lambda *_, **__: ClientIdentity())
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1
    assert "Serve:     would use the BUILT-IN EMULATOR" in result.stdout, result.output


def test_setup_prints_each_clients_configuration() -> None:
    opencode = CliRunner().invoke(main, ["setup", "opencode"])
    assert opencode.exit_code == 0, opencode.output
    config = json.loads(opencode.stdout)
    provider = config["provider"]["bridge"]
    assert provider["options"]["baseURL"] == "http://127.0.0.1:8787/v1"
    assert provider["models"]["claude-4.6-sonnet"] == {
        "name": "claude-4.6-sonnet",
        "tool_call": True,
    }
    assert config["model"] == "bridge/claude-4.6-sonnet"
    codex = CliRunner().invoke(main, ["setup", "codex", "--base-url", "http://h:1/v1"])
    parsed = tomllib.loads(codex.stdout)
    assert parsed["model"] == "gpt-5.4"
    assert parsed["model_providers"]["bridge"]["base_url"] == "http://h:1/v1"
    assert "--skip-git-repo-check" in codex.stderr
    claude = CliRunner().invoke(main, ["setup", "claude-code", "--model", "claude-opus-5-5"])
    settings = json.loads(claude.stdout)
    assert settings["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8787"
    assert settings["permissions"]["defaultMode"] == "acceptEdits"
    assert settings["model"] == "claude-opus-5-5"


def test_setup_write_never_clobbers_without_force(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    env = {"CODEX_HOME": str(tmp_path)}
    first = CliRunner().invoke(main, ["setup", "codex", "--write"], env=env)
    assert first.exit_code == 0, first.output
    assert target.stat().st_mode & 0o777 == 0o600
    target.write_text("# mine\n")
    again = CliRunner().invoke(main, ["setup", "codex", "--write"], env=env)
    assert again.exit_code == 1 and "--force" in again.output
    assert target.read_text() == "# mine\n"
    forced = CliRunner().invoke(main, ["setup", "codex", "--write", "--force"], env=env)
    assert forced.exit_code == 0 and 'wire_api = "responses"' in target.read_text()


@pytest.fixture
def served_json(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", "serve", "--port", "0", "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    banner: list[str] = []
    for line in proc.stdout:
        banner.append(line)
        if line.startswith("  Log:"):
            break
    try:
        base = banner[0].split("listening on ")[1].split("/v1")[0]
        yield proc, banner, base
    finally:
        proc.terminate()
        proc.wait(15)


def test_serve_banner_and_json_access_log(
    served_json: tuple[subprocess.Popen[str], list[str], str],
) -> None:
    proc, banner, base = served_json
    text = "".join(banner)
    assert f"OpenAI-style clients:    base URL {base}/v1" in text
    assert f"Anthropic-style clients: base URL {base} " in text
    assert "built-in read/write/shell off" in text
    body = {"model": "auto", "messages": [{"role": "user", "content": "private words"}]}
    response = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=20)
    assert response.status_code == 200
    assert response.headers["x-cursor-bridge-model"] == "default"
    assert proc.stderr is not None
    for line in proc.stderr:  # the access line follows the request; EOF ends the loop
        if '"cursor_bridge.access"' in line:
            record = json.loads(line)
            break
    assert record["path"] == "/v1/chat/completions" and record["status"] == 200
    assert record["model"] == "auto" and record["cursor_model"] == "default"
    assert "private words" not in line


def test_hints_name_the_command_that_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    (clone / "scripts" / "uv.sh").write_text("")
    venv_bin = clone / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "cursor-bridge").write_text("#!/bin/sh\n")
    (venv_bin / "cursor-bridge").chmod(0o755)
    monkeypatch.setenv("UV", "/usr/bin/uv")
    monkeypatch.setenv("VIRTUAL_ENV", str(clone / ".venv"))
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin:/bin")
    assert command_name() == CLONE_PREFIX  # only uv's environment has it
    user_bin = tmp_path / "bin"
    user_bin.mkdir()
    (user_bin / "cursor-bridge").write_text("#!/bin/sh\n")
    (user_bin / "cursor-bridge").chmod(0o755)
    monkeypatch.setenv("PATH", f"{venv_bin}:{user_bin}:/usr/bin:/bin")
    assert command_name() == "cursor-bridge"  # installed: the plain command
    monkeypatch.delenv("UV")
    assert command_name() == "cursor-bridge"


def test_shell_completion_as_documented() -> None:
    """README: `eval "$(_CURSOR_BRIDGE_COMPLETE=bash_source cursor-bridge)"`."""
    script = subprocess.run(
        [sys.executable, "-m", "cursor_bridge"],
        env={**os.environ, "_CURSOR_BRIDGE_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "_cursor_bridge_completion()" in script.stdout
    words = subprocess.run(
        [sys.executable, "-m", "cursor_bridge"],
        env={
            **os.environ,
            "_CURSOR_BRIDGE_COMPLETE": "bash_complete",
            "COMP_WORDS": "cursor-bridge se",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert words.stdout.split() == ["plain,serve", "plain,setup"]
