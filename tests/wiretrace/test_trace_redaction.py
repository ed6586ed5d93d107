"""`serve --record`: a trace of a conversation that carries a marker word, reads a file and
refreshes the token holds none of them (the trace is grepped), yet shows every frame."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cursor_bridge.cli import main
from cursor_bridge.emulator import EmulatorOptions
from tests.support.threaded_emulator import ThreadedEmulator, threaded_emulator

MARKER = "ZEBRAMARKER4711"
FILE_CONTENT = "FILECONTENT-9c2e-only-on-disk"
API_KEY = "crsr_tracetestkey_5521"


@pytest.fixture
def emulator() -> Iterator[ThreadedEmulator]:
    # Tokens live 60 s, under the 300 s refresh margin: every use of one refreshes it.
    with threaded_emulator(EmulatorOptions(require_auth=True, token_lifetime=60)) as emu:
        yield emu


def secrets_stored() -> set[str]:
    found: set[str] = set()
    for path in (Path(os.environ["CURSOR_BRIDGE_HOME"]) / "accounts").glob("*.json"):
        data = json.loads(path.read_text())
        found |= {data[k] for k in ("access_token", "refresh_token", "api_key") if data[k]}
    return found


def serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)/v1", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise AssertionError("".join(seen))


def test_trace_of_a_marker_a_file_read_and_a_refresh_holds_none_of_them(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    login = CliRunner().invoke(main, ["login", "--api-key", API_KEY, "--backend-url", emulator.url])
    assert login.exit_code == 0, login.output
    before = secrets_stored()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text(FILE_CONTENT)
    traces = tmp_path / "traces"
    proc, url = serve(
        "--backend-url", emulator.url, "--workspace", str(workspace), "--record", str(traces)
    )
    try:
        first = f'My code word is {MARKER}.\n/exec read {{"path": "notes.txt"}}'
        messages = [{"role": "user", "content": first}]
        reply = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "auto", "messages": messages},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        answer = reply.json()["choices"][0]["message"]["content"]
        assert FILE_CONTENT in answer  # the file was read and its content went upstream
        messages += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "And now?\n/recall"},
        ]
        again = httpx.post(
            f"{url}/v1/chat/completions", json={"model": "auto", "messages": messages}, timeout=30
        )
        assert again.status_code == 200, again.text
        recalled = again.json()["choices"][0]["message"]["content"]
        assert MARKER in recalled  # the marker crossed the wire, in blobs both ways
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert emulator.counters.refreshes > 0  # the token was refreshed meanwhile
    secrets = before | secrets_stored() | {API_KEY}
    (trace,) = traces.glob("*.jsonl")
    text = trace.read_text()
    for secret in (MARKER, FILE_CONTENT, *secrets):
        assert secret not in text
    assert len(secrets) >= 4  # old and new tokens, the refresh token, the key
    # ...and still a full account of the frames.
    shown = CliRunner().invoke(main, ["trace", "show", str(trace)])
    assert shown.exit_code == 0, shown.output
    for expected in (
        "←  exec_server_message.read_args",
        "→  exec_client_message.read_result",
        "←  kv_server_message.set_blob_args",
        "←  kv_server_message.get_blob_args",
        "←  conversation_checkpoint_update",
        "end-stream: clean",
    ):
        assert expected in shown.output
    assert MARKER not in shown.output and FILE_CONTENT not in shown.output
