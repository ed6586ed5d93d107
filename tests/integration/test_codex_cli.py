"""The real Codex CLI (from npm) against bridge + emulator over the Responses API.

Codex is installed once into a cache (tests/support/npm_clients.py) and skipped with the
reason when npm or the registry is unavailable. Every request Codex makes is recorded, so a
failure shows exactly what it sent.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.engine.model_map import ModelMap
from cursor_bridge.engine.output import (
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    TurnFinished,
    Usage,
)
from cursor_bridge.engine.request import ChatRequest
from cursor_bridge.server.app import create_app
from cursor_bridge.setup_cli import CODEX_KEY_ENV, codex_config
from tests.conftest import Stack
from tests.support.bridge_apps import Recorder, ScriptedBackend, serve
from tests.support.npm_clients import client_binary

# Real coding clients from npm: the `clients` group (README: Tests).
pytestmark = pytest.mark.clients

MODEL = "gpt-5.4"
# A name Codex knows (its bundled model metadata), mapped onto a catalog model.
CODEX_MODEL = "gpt-5.5"
PROOF_COMMAND = "echo codex-tool-ok > proof.txt && cat proof.txt"


@dataclass
class Bridge:
    url: str
    recorder: Recorder


@pytest.fixture
def recording_bridge(stack: Stack) -> Iterator[Bridge]:
    """A second bridge app on the stack's backend (the emulator) whose requests are recorded."""
    recorder = Recorder(create_app(stack.backend, mode="emulator"))
    with serve(stack, recorder) as url:
        yield Bridge(url, recorder)


@pytest.fixture(scope="module")
def codex() -> Path:
    return client_binary("codex")


def run_codex(
    codex: Path, bridge: Bridge, tmp_path: Path, prompt: str, model: str = MODEL
) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "codex-home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir(exist_ok=True)
    # Configured as `cursor-bridge setup codex` prints it, without retries (a failure shows).
    (home / "config.toml").write_text(
        codex_config(bridge.url, model) + "request_max_retries = 0\nstream_max_retries = 0\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        CODEX_KEY_ENV: "test-key",
        "NO_COLOR": "1",
    }
    # Codex's own sandbox is not under test: with bubblewrap installed (the security tests
    # install it) Codex wraps commands in bwrap and fails to start its helper from a
    # temporary directory. The commands run here are the emulator's scripted ones.
    return subprocess.run(
        [str(codex), "exec", "--skip-git-repo-check", "-s", "danger-full-access", prompt],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def explain(done: subprocess.CompletedProcess[str], bridge: Bridge) -> str:
    return (
        f"exit {done.returncode}\n--- stdout\n{done.stdout[-2000:]}\n--- stderr\n"
        f"{done.stderr[-3000:]}\n--- requests\n{bridge.recorder.describe()[-8000:]}"
    )


def test_codex_exec_answers_from_the_bridge(
    codex: Path, recording_bridge: Bridge, tmp_path: Path
) -> None:
    done = run_codex(codex, recording_bridge, tmp_path, "/reply Hello from the emulated Cursor")
    assert done.returncode == 0, explain(done, recording_bridge)
    assert "Hello from the emulated Cursor" in done.stdout, explain(done, recording_bridge)
    bodies = recording_bridge.recorder.bodies("/v1/responses")
    assert bodies, explain(done, recording_bridge)
    # What Codex 0.169 sends (seen from the real client): the dialect must take all of it.
    first = bodies[0]
    assert first["stream"] is True and first["store"] is False
    assert first["reasoning"]["summary"] == "auto"
    assert "exec_command" in {t.get("name") for t in first["tools"]}


def test_codex_runs_a_tool_and_quotes_its_output(
    stack: Stack, codex: Path, recording_bridge: Bridge, tmp_path: Path
) -> None:
    prompt = "/tool exec_command " + json.dumps({"cmd": PROOF_COMMAND})
    rounds = stack.backend.tool_rounds.copy()
    done = run_codex(codex, recording_bridge, tmp_path, prompt)
    assert done.returncode == 0, explain(done, recording_bridge)
    assert (tmp_path / "work" / "proof.txt").read_text().strip() == "codex-tool-ok"
    assert "codex-tool-ok" in done.stdout, explain(done, recording_bridge)
    bodies = recording_bridge.recorder.bodies("/v1/responses")
    assert len(bodies) >= 2, explain(done, recording_bridge)
    kinds = [item.get("type") for item in bodies[1]["input"]]
    assert "function_call" in kinds and "function_call_output" in kinds
    # Codex's full resent input matched the parked Run: the tool round continued it.
    assert stack.backend.tool_rounds - rounds == {"continued": 1}, explain(done, recording_bridge)


def test_codex_executes_a_function_call_rendered_by_the_dialect(
    stack: Stack, codex: Path, tmp_path: Path
) -> None:
    """The dialect's function_call items drive real Codex tool use (scripted engine double:
    this checks the rendering and the round trip, independently of engine tool calling)."""

    def script(request: ChatRequest) -> list[OutputEvent]:
        last = request.messages[-1]
        if last.role == "tool":
            return [TextDelta(f"The tool said: {last.text}"), TurnFinished("stop", Usage(10, 5))]
        call = ToolCall(0, "call_proof", "exec_command", json.dumps({"cmd": PROOF_COMMAND}))
        return [ThinkingDelta("I will run it."), call, TurnFinished("tool_calls", Usage(10, 5))]

    backend = ScriptedBackend(script)
    recorder = Recorder(create_app(backend, mode="emulator"))
    with serve(stack, recorder) as url:
        done = run_codex(codex, Bridge(url, recorder), tmp_path, "run the proof command")
    bridge = Bridge(url, recorder)
    assert done.returncode == 0, explain(done, bridge)
    assert (tmp_path / "work" / "proof.txt").read_text().strip() == "codex-tool-ok"
    assert "The tool said:" in done.stdout and "codex-tool-ok" in done.stdout, explain(done, bridge)
    # Round two resent everything (store false): the dialect rebuilt the call and its result.
    assert len(backend.requests) == 2, explain(done, bridge)
    step, result = backend.requests[1].messages[-2:]
    assert step.role == "assistant" and step.reasoning == "I will run it."
    assert [(c.id, c.name) for c in step.tool_calls] == [("call_proof", "exec_command")]
    assert result.role == "tool" and result.tool_call_id == "call_proof"
    assert "codex-tool-ok" in result.text


@pytest.fixture
def known_model_bridge(stack: Stack) -> Iterator[Bridge]:
    """A bridge whose model map gives Codex's own model name a catalog model: with a name it
    knows, Codex has its model metadata and offers its `apply_patch` custom tool."""
    config = BackendConfig(
        api_url=stack.emulator.url,
        agent_url=stack.emulator.url,
        heartbeat_interval=0.2,
        model_map=ModelMap.parse({CODEX_MODEL: MODEL}),
    )
    backend = CursorBackend(config)
    recorder = Recorder(create_app(backend, mode="emulator"))
    try:
        with serve(stack, recorder) as url:
            yield Bridge(url, recorder)
    finally:
        stack.call(backend.aclose())


def test_codex_reads_then_edits_with_apply_patch(
    codex: Path, known_model_bridge: Bridge, tmp_path: Path
) -> None:
    bridge = known_model_bridge
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("hello world\n")
    patch = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-hello world\n+hello bridge\n*** End Patch\n"
    prompt = (
        "Read notes.txt, then fix it.\n"
        f"/tool exec_command {json.dumps({'cmd': 'cat notes.txt'})}\n"
        "/then\n"
        f"/tool apply_patch {json.dumps({'input': patch})}"
    )
    done = run_codex(codex, bridge, tmp_path, prompt, model=CODEX_MODEL)
    assert done.returncode == 0, explain(done, bridge)
    assert (tmp_path / "work" / "notes.txt").read_text() == "hello bridge\n", explain(done, bridge)
    bodies = bridge.recorder.bodies("/v1/responses")
    offered = {(t.get("type"), t.get("name")) for t in bodies[0]["tools"]}
    assert ("custom", "apply_patch") in offered, explain(done, bridge)
    last = [item.get("type") for item in bodies[-1]["input"]]
    assert "custom_tool_call" in last and "custom_tool_call_output" in last
    (output,) = [i for i in bodies[-1]["input"] if i.get("type") == "custom_tool_call_output"]
    assert "hello world" not in str(output.get("output"))  # the patch applied cleanly
    assert "apply_patch" in done.stdout, explain(done, bridge)
