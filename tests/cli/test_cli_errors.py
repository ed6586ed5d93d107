"""Every command-line failure is one or two lines that name the fix, never a traceback
(the CLI runs as a real subprocess, as a user would run it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cursor_bridge.emulator import EmulatorOptions
from tests.support.threaded_emulator import threaded_emulator


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cursor_bridge", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def assert_short_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    assert len(done.stderr.strip().splitlines()) <= 3, done.stderr
    for fragment in fragments:
        assert fragment in output, output


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_busy_port_for_serve(busy_port: int) -> None:
    done = run("serve", "--port", str(busy_port))
    assert_short_error(done, f"cannot listen on 127.0.0.1:{busy_port}", "already in use", "--port")


def test_busy_port_for_emulator(busy_port: int) -> None:
    done = run("emulator", "--port", str(busy_port))
    assert_short_error(done, f"cannot listen on 127.0.0.1:{busy_port}", "already in use", "--port")


def test_malformed_model_map() -> None:
    done = run("serve", "--port", "0", env={"CURSOR_BRIDGE_MODEL_MAP": "{bad"})
    assert_short_error(done, "CURSOR_BRIDGE_MODEL_MAP", "JSON")


def test_model_map_with_a_bad_entry() -> None:
    done = run("serve", "--port", "0", env={"CURSOR_BRIDGE_MODEL_MAP": '{"claude-*": 5}'})
    assert_short_error(done, "CURSOR_BRIDGE_MODEL_MAP")


def test_bad_setting_in_environment_and_file(tmp_path: Path) -> None:
    assert_short_error(run("serve", env={"CURSOR_BRIDGE_PORT": "eighty"}), "CURSOR_BRIDGE_PORT")
    config = tmp_path / "config.toml"
    config.write_text("prot = 8000\n")
    assert_short_error(
        run("--config", str(config), "serve"), "unknown setting `prot`", "config show"
    )
    config.write_text("port = \n")
    assert_short_error(run("--config", str(config), "serve"), "not valid TOML", str(config))
    done = run("serve", env={"CURSOR_BRIDGE_LOG_FORMAT": "xml"})
    assert_short_error(done, "CURSOR_BRIDGE_LOG_FORMAT", "text or json")


def test_unreachable_backend() -> None:
    # Nothing answers HTTP on a port that only listens: connect fails fast on a closed one.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    done = run("models", "--backend-url", f"http://127.0.0.1:{port}")
    assert_short_error(done, "cannot list models", "127.0.0.1")


def test_missing_login_names_the_login_command() -> None:
    with threaded_emulator(EmulatorOptions(require_auth=True)) as emulator:
        done = run("models", "--backend-url", emulator.url)
        assert_short_error(done, "cursor-bridge login")
