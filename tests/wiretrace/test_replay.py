"""A recorded trace replays in the emulator: the bridge in front of the replay shows its
client the same outcome as it did in front of the original backend."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from cursor_bridge.emulator import EmulatorOptions
from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.engine.request import ChatMessage, ChatRequest
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.wiretrace import WireRecorder, load_trace
from tests.conftest import Stack, _stack

stack_of = contextmanager(_stack)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"key": {"type": "string"}}},
        },
    }
]


def chat(stack: Stack, content: str, **extra: Any) -> httpx.Response:
    body = {"model": "auto", "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{stack.bridge_url}/v1/chat/completions", json=body, timeout=30)


def record(tmp_path: Path, content: str, **extra: Any) -> tuple[httpx.Response, Path]:
    recorder = WireRecorder(tmp_path)
    with stack_of(EmulatorOptions(heartbeat_interval=0.2), recorder=recorder) as stack:
        response = chat(stack, content, **extra)
    recorder.close()
    assert recorder.path is not None
    return response, recorder.path


def replay(trace: Path, **extra: Any) -> httpx.Response:
    options = EmulatorOptions(heartbeat_interval=0.2, replay=load_trace(trace))
    with stack_of(options) as stack:
        # Different words, same shape: the replay answers with the recording, not the prompt.
        return chat(stack, "something else entirely", **extra)


def outcome(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if response.status_code != 200:
        return response.status_code, (body["error"]["type"], body["error"].get("code"))
    choice = body["choices"][0]
    calls = [c["function"]["name"] for c in choice["message"].get("tool_calls") or []]
    return 200, (choice["finish_reason"], calls, len(choice["message"]["content"] or ""))


@pytest.mark.parametrize(
    "script",
    [
        "hi\n/reply one two three\n/fault error resource_exhausted",
        "hi\n/reply one two three\n/fault end-early",
        "hi\n/reply one two three\n/fault malformed",
    ],
    ids=["usage-limit", "end-early", "malformed-frame"],
)
def test_a_recorded_failure_replays_to_the_same_client_visible_failure(
    tmp_path: Path, script: str
) -> None:
    original, trace = record(tmp_path, script)
    assert original.status_code >= 400  # a failure worth reporting
    assert outcome(replay(trace)) == outcome(original)


def test_a_recorded_tool_round_replays_with_the_same_call(tmp_path: Path) -> None:
    script = 'Look it up.\n/tool lookup {"key": "alpha"}'
    original, trace = record(tmp_path, script, tools=TOOLS)
    assert outcome(original) == (200, ("tool_calls", ["lookup"], 0))
    assert outcome(replay(trace, tools=TOOLS)) == outcome(original)


def test_a_text_answer_replays_with_the_same_length(tmp_path: Path) -> None:
    original, trace = record(tmp_path, "/reply a private answer of some length")
    assert outcome(original) == (200, ("stop", [], len("a private answer of some length")))
    replayed = replay(trace)
    assert outcome(replayed) == outcome(original)
    assert "private" not in replayed.text  # redacted: the words never left the recording


def test_a_run_beyond_the_recording_is_refused(tmp_path: Path) -> None:
    _, trace = record(tmp_path, "/reply ok")
    options = EmulatorOptions(heartbeat_interval=0.2, replay=load_trace(trace))
    with stack_of(options) as stack:
        assert chat(stack, "first").status_code == 200
        second = chat(stack, "second")
    assert second.status_code == 503
    assert "no more recorded Runs" in second.text


def test_compressed_frames_replay_compressed(tmp_path: Path) -> None:
    recorder = WireRecorder(tmp_path)
    options = EmulatorOptions(heartbeat_interval=0.2, gzip_min_size=1)
    with stack_of(options, recorder=recorder) as stack:
        original = chat(stack, "/reply squeezed words\n/fault error unavailable")
    recorder.close()
    assert recorder.path is not None
    trace = load_trace(recorder.path)
    flags = {r["flags"] for r in trace.runs[0].frames("in") if "end" not in r}
    assert flags == {1}  # every message frame arrived gzip-compressed
    assert outcome(replay(recorder.path)) == outcome(original)
    assert original.status_code == 503


def test_emulator_command_replays_a_trace_file(tmp_path: Path) -> None:
    original, trace = record(tmp_path, "hi\n/reply one two\n/fault error permission_denied")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", "emulator", "--port", "0", "--replay", str(trace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, line

        async def ask() -> str:
            backend = CursorBackend(BackendConfig(api_url=match.group(1), agent_url=match.group(1)))
            request = ChatRequest("auto", (ChatMessage("user", "other words"),), stream=True)
            try:
                choice = await backend.resolve(request)
                with pytest.raises(ConnectError) as failure:
                    async for _ in backend.stream_turn(request, choice):
                        pass
                return failure.value.code
            finally:
                await backend.aclose()

        assert asyncio.run(ask()) == "permission_denied"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    assert original.status_code == 403
