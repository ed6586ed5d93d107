"""Requests without tools: Cursor's built-in execs run by the bridge's sandboxed executor.

`/exec KIND {json}` makes the emulator's model send a built-in exec; the executor answers
inside its workspace only, and the model quotes the typed result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from cursor_bridge.engine.executor import BuiltinExecutor
from cursor_bridge.engine.planner import Workspace
from tests.conftest import Stack


@pytest.fixture
def workspace(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.txt").write_text("apples and pears\n")
    (tmp_path / "secret.txt").write_text("TOPSECRET-42\n")
    config = stack.backend.config
    saved = (config.executor, config.workspace)
    config.executor = BuiltinExecutor(root).execute
    config.workspace = Workspace(path=str(root))
    try:
        yield root
    finally:
        config.executor, config.workspace = saved


def ask(stack: Stack, text: str) -> str:
    client = OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)
    response = client.chat.completions.create(
        model="gpt-5.4", messages=[{"role": "user", "content": text}]
    )
    assert response.choices[0].finish_reason == "stop"
    return response.choices[0].message.content or ""


def test_reads_inside_the_workspace(stack: Stack, workspace: Path) -> None:
    answer = ask(stack, f"/exec read {json.dumps({'path': str(workspace / 'notes.txt')})}")
    assert answer.startswith("Tool results:\n- read: success")
    assert "apples and pears" in answer


def test_refuses_escapes_and_disabled_kinds(stack: Stack, workspace: Path) -> None:
    escape = ask(stack, f"/exec read {json.dumps({'path': str(workspace / '..' / 'secret.txt')})}")
    assert "TOPSECRET-42" not in escape
    assert "rejected" in escape and "outside the workspace" in escape
    shell = ask(stack, '/exec shell {"command": "echo hi"}')
    assert "rejected" in shell and "--allow-shell" in shell
