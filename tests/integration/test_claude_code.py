"""The real Claude Code CLI (`claude -p`, from npm) against bridge + emulator.

Claude Code asks for a Claude model name (`claude-opus-5-5` by default) at
`/v1/messages?beta=true` with adaptive thinking, mid-conversation system messages and its
full tool set, so these runs exercise the dialect the way its main client uses it. Skipped
with the reason when npm or the registry is unavailable (see tests/support/npm_clients.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cursor_bridge.setup_cli import claude_code_settings
from tests.conftest import Stack
from tests.support.npm_clients import client_binary

TIMEOUT = 120
# A cold npm install (about 360 MB) runs inside the first test's setup; each `claude` run is
# bounded by TIMEOUT on its own.
pytestmark = [pytest.mark.clients, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def claude() -> Path:
    return client_binary("claude")


def run_claude(
    exe: Path,
    stack: Stack,
    tmp_path: Path,
    prompt: str,
    *args: str,
    env_from_settings: bool = False,
) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir(exist_ok=True)
    project.mkdir(exist_ok=True)
    # A clean environment: nothing from the developer's own Claude setup may leak in.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": stack.bridge_url,
        "ANTHROPIC_API_KEY": "x",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    if env_from_settings:
        env = {"PATH": env["PATH"], "HOME": env["HOME"]}
    return subprocess.run(
        [str(exe), "-p", prompt, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def test_claude_code_prints_the_scripted_answer(claude: Path, stack: Stack, tmp_path: Path) -> None:
    """Configured only by the settings file `cursor-bridge setup claude-code` writes."""
    settings = tmp_path / "claude-code-settings.json"
    settings.write_text(json.dumps(claude_code_settings(stack.bridge_url, "claude-sonnet-4-5")))
    runs_before = stack.counters.runs_completed
    done = run_claude(
        claude,
        stack,
        tmp_path,
        "Please answer\n/reply The bridge says hello",
        "--settings",
        str(settings),
        env_from_settings=True,
    )
    assert done.returncode == 0, done.stderr or done.stdout
    assert "The bridge says hello" in done.stdout
    assert stack.counters.runs_completed > runs_before


def test_claude_code_reads_a_file_with_its_read_tool(
    claude: Path, stack: Stack, tmp_path: Path
) -> None:
    note = tmp_path / "project" / "note.txt"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text("the secret number is 4127\n")
    prompt = f'Read the note\n/tool Read {{"file_path": "{note}"}}'
    continued = stack.backend.tool_rounds["continued"]
    done = run_claude(claude, stack, tmp_path, prompt, "--allowedTools", "Read")
    assert done.returncode == 0, done.stderr or done.stdout
    assert "the secret number is 4127" in done.stdout
    # Claude Code's follow-up (history with the omitted-thinking signature) matched the
    # parked Run, so the tool result went back into the same upstream turn.
    assert stack.backend.tool_rounds["continued"] > continued
