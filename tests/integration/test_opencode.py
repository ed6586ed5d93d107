"""OpenCode (the real CLI from npm) drives a tool loop through the bridge and the emulator.

OpenCode talks OpenAI chat completions (`@ai-sdk/openai-compatible`), always streaming, with
its own tool vocabulary (`read` takes `filePath`). Skipped with the reason when npm or the
registry is unavailable.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cursor_bridge.setup_cli import opencode_config
from tests.conftest import Stack
from tests.support.npm_clients import cache_root, client_binary

# Real coding clients from npm: the `clients` group (README: Tests).
pytestmark = pytest.mark.clients

MODEL = "claude-4.6-sonnet"


def run_opencode(stack: Stack, project: Path, home: Path, prompt: str) -> str:
    binary = client_binary("opencode")
    # Configured exactly as `cursor-bridge setup opencode` prints it.
    config = opencode_config(stack.bridge_url, [MODEL], MODEL)
    (project / "opencode.json").write_text(json.dumps(config))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        # OpenCode fetches its provider package from npm on first use: keep that cached.
        "XDG_CACHE_HOME": str(cache_root() / "opencode-xdg-cache"),
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [str(binary), "run", prompt],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "project").mkdir()
    (tmp_path / "home").mkdir()
    return tmp_path / "project"


def test_opencode_gets_a_streamed_answer(stack: Stack, project: Path) -> None:
    out = run_opencode(stack, project, project.parent / "home", "Task:\n/reply forty-two it is")
    assert "forty-two it is" in out


def test_opencode_read_then_edit_continues_one_run(stack: Stack, project: Path) -> None:
    notes = project / "notes.txt"
    notes.write_text("the secret word is marmalade\n")
    continued = stack.backend.tool_rounds["continued"]
    fallback = stack.backend.tool_rounds["fallback"]
    edit = {"filePath": str(notes), "oldString": "marmalade", "newString": "jam"}
    prompt = (
        f"Task:\n/tool read {json.dumps({'filePath': str(notes)})}\n/then\n"
        f"/tool edit {json.dumps(edit)}"
    )
    out = run_opencode(stack, project, project.parent / "home", prompt)
    assert "Tool results:" in out and "marmalade" in out  # the read result, quoted
    assert notes.read_text() == "the secret word is jam\n"  # OpenCode ran the edit
    # Both rounds went into the Run the first request opened.
    assert stack.backend.tool_rounds["continued"] == continued + 2
    assert stack.backend.tool_rounds["fallback"] == fallback
