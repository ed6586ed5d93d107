"""`cursor-bridge acp` driven by the ACP SDK's client side, as an editor would drive it.

The agent runs as a real subprocess on stdio, on an emulator served from this test's event
loop (so its counters show what reached the backend). The editor here is `Editor`: an
in-memory file system, real `sh -c` terminals, and a permission policy per test. The emulator's
scripted model asks for Cursor's built-in tools (`/exec read|write|shell`), which the agent
maps to the editor's capabilities.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from acp import PROTOCOL_VERSION, RequestError, spawn_agent_process, text_block
from acp.connection import StreamEvent
from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    AllowedOutcome,
    ClientCapabilities,
    CreateTerminalResponse,
    DeniedOutcome,
    EnvVariable,
    FileSystemCapabilities,
    KillTerminalResponse,
    McpServerStdio,
    ReadTextFileResponse,
    ReleaseTerminalResponse,
    RequestPermissionResponse,
    TerminalOutputResponse,
    ToolCallProgress,
    ToolCallStart,
    WaitForTerminalExitResponse,
    WriteTextFileResponse,
)

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from tests.mcp_host.fixtures import SERVER_SCRIPT

EXAMPLES = os.environ.get("CURSOR_BRIDGE_RECORD_EXAMPLES")


@dataclass
class Editor:
    """The editor side (implements `acp.Client`)."""

    root: str
    files: dict[str, str] = field(default_factory=dict)
    permission: str = "allow"  # option id to pick, or "cancelled"
    updates: list[Any] = field(default_factory=list)
    permission_requests: list[Any] = field(default_factory=list)
    terminals: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    waiting: asyncio.Event = field(default_factory=asyncio.Event)

    async def session_update(self, session_id: str, update: Any, **_: Any) -> None:
        self.updates.append(update)

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **_: Any
    ) -> RequestPermissionResponse:
        self.permission_requests.append(tool_call)
        if self.permission == "wait":
            self.waiting.set()
            await asyncio.Event().wait()  # until the agent's turn is cancelled
        if self.permission == "cancelled":
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        assert self.permission in {o.option_id for o in options}
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=self.permission)
        )

    async def read_text_file(
        self,
        session_id: str,
        path: str,
        line: int | None = None,
        limit: int | None = None,
        **_: Any,
    ) -> ReadTextFileResponse:
        if path not in self.files:
            raise RequestError.resource_not_found(path)
        return ReadTextFileResponse(content=self.files[path])

    async def write_text_file(
        self, session_id: str, path: str, content: str, **_: Any
    ) -> WriteTextFileResponse:
        self.files[path] = content
        return WriteTextFileResponse()

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[EnvVariable] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **_: Any,
    ) -> CreateTerminalResponse:
        process = await asyncio.create_subprocess_exec(
            command,
            *(args or []),
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        terminal_id = f"term-{len(self.terminals) + 1}"
        self.terminals[terminal_id] = process
        return CreateTerminalResponse(terminal_id=terminal_id)

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> WaitForTerminalExitResponse:
        process = self.terminals[terminal_id]
        assert process.stdout is not None
        self.outputs[terminal_id] = (await process.stdout.read()).decode()
        code = await process.wait()
        return WaitForTerminalExitResponse(exit_code=code)

    async def terminal_output(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> TerminalOutputResponse:
        return TerminalOutputResponse(output=self.outputs.get(terminal_id, ""), truncated=False)

    async def release_terminal(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> ReleaseTerminalResponse:
        return ReleaseTerminalResponse()

    async def kill_terminal(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> KillTerminalResponse:
        self.terminals[terminal_id].kill()
        return KillTerminalResponse()

    def text(self) -> str:
        return "".join(u.content.text for u in self.updates if isinstance(u, AgentMessageChunk))

    def thoughts(self) -> str:
        return "".join(u.content.text for u in self.updates if isinstance(u, AgentThoughtChunk))


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorServer]:
    server = EmulatorServer("127.0.0.1", 0, EmulatorOptions(heartbeat_interval=0.2))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def agent_session(
    emulator: EmulatorServer,
    editor: Editor,
    transcript: list[dict[str, Any]],
    extra_env: dict[str, str] | None = None,
    **session: Any,
) -> AsyncIterator[tuple[Any, str]]:
    def record(event: StreamEvent) -> None:
        transcript.append({"direction": event.direction.value, "message": event.message})

    env = {
        "CURSOR_BRIDGE_HOME": os.environ["CURSOR_BRIDGE_HOME"],
        "CURSOR_BRIDGE_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    async with spawn_agent_process(
        editor,
        sys.executable,
        "-m",
        "cursor_bridge",
        "acp",
        "--backend-url",
        emulator.url,
        "--model",
        "gpt-5.4",
        env=env,
        observers=[record],
    ) as (conn, _process):
        init = await conn.initialize(
            protocol_version=PROTOCOL_VERSION,
            client_capabilities=ClientCapabilities(
                fs=FileSystemCapabilities(read_text_file=True, write_text_file=True),
                terminal=True,
            ),
        )
        assert init.agent_capabilities is not None and init.agent_capabilities.load_session
        created = await conn.new_session(cwd=editor.root, **session)
        yield conn, created.session_id


async def prompt(conn: Any, session_id: str, text: str) -> str:
    response = await asyncio.wait_for(
        conn.prompt(session_id=session_id, prompt=[text_block(text)]), 60
    )
    return str(response.stop_reason)


def tool_statuses(editor: Editor) -> list[tuple[str, str]]:
    return [
        (type(u).__name__, str(u.status))
        for u in editor.updates
        if isinstance(u, ToolCallStart | ToolCallProgress)
    ]


async def test_read_edit_with_permission_and_terminal(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    root = str(tmp_path)
    editor = Editor(root, files={f"{root}/notes.txt": "apples and pears\n"})
    transcript: list[dict[str, Any]] = []
    async with agent_session(emulator, editor, transcript) as (conn, session_id):
        # A read goes to the editor's file system (its buffers), not to the disk.
        assert await prompt(conn, session_id, '/exec read {"path": "notes.txt"}') == "end_turn"
        assert "apples and pears" in editor.text()
        assert tool_statuses(editor) == [
            ("ToolCallStart", "in_progress"),
            ("ToolCallProgress", "completed"),
        ]

        # An edit needs permission: granted, the editor writes the file.
        editor.updates.clear()
        editor.permission = "allow"
        write = json.dumps({"path": "out.txt", "file_text": "hello\n"})
        assert await prompt(conn, session_id, f"/exec write {write}") == "end_turn"
        assert editor.files[f"{root}/out.txt"] == "hello\n"
        (request,) = editor.permission_requests
        assert request.kind == "edit" and request.content[0].type == "diff"
        assert "write: success" in editor.text()

        # Refused: nothing is written and the model is told.
        editor.updates.clear()
        editor.permission = "reject"
        again = json.dumps({"path": "out.txt", "file_text": "overwritten\n"})
        assert await prompt(conn, session_id, f"/exec write {again}") == "end_turn"
        assert editor.files[f"{root}/out.txt"] == "hello\n"
        assert "declined" in editor.text()

        # A terminal command, with permission, runs in the editor's terminal.
        editor.updates.clear()
        editor.permission = "allow"
        shell = json.dumps({"command": "echo from-the-terminal && pwd"})
        assert await prompt(conn, session_id, f"/exec shell {shell}") == "end_turn"
        assert "exit 0: from-the-terminal" in editor.text() and root in editor.text()
        assert any(
            getattr(c, "type", "") == "terminal"
            for u in editor.updates
            if isinstance(u, ToolCallProgress)
            for c in (u.content or [])
        )

        # Paths outside the session's folder are refused before the editor is asked.
        editor.updates.clear()
        assert await prompt(conn, session_id, '/exec read {"path": "/etc/passwd"}') == "end_turn"
        assert "outside the session's folders" in editor.text()
    methods = [m["message"].get("method") for m in transcript if "method" in m["message"]]
    for method in (
        "initialize",
        "session/new",
        "session/prompt",
        "session/update",
        "fs/read_text_file",
        "session/request_permission",
        "fs/write_text_file",
        "terminal/create",
        "terminal/wait_for_exit",
        "terminal/output",
        "terminal/release",
    ):
        assert method in methods, method
    if EXAMPLES:
        _save(Path(EXAMPLES) / "acp-session.jsonl", transcript, root)


async def test_delete_runs_in_the_editors_terminal_after_permission(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    doomed = tmp_path / "doomed.txt"
    doomed.write_text("bye\n")
    editor = Editor(str(tmp_path), files={str(doomed): "bye\n"}, permission="allow")
    async with agent_session(emulator, editor, []) as (conn, session_id):
        assert await prompt(conn, session_id, '/exec delete {"path": "doomed.txt"}') == "end_turn"
        assert not doomed.exists()
        assert "delete: success" in editor.text() and '"prevContent":"bye\\n"' in editor.text()
        (request,) = editor.permission_requests
        assert request.kind == "delete"
        editor.updates.clear()
        assert await prompt(conn, session_id, '/exec delete {"path": "doomed.txt"}') == "end_turn"
        assert "delete: file_not_found" in editor.text()


async def test_cancel_mid_turn_cancels_the_upstream_run(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    editor = Editor(str(tmp_path), permission="wait")
    async with agent_session(emulator, editor, []) as (conn, session_id):
        cancelled_before = emulator.counters.runs_cancelled
        turn = asyncio.ensure_future(
            prompt(conn, session_id, '/reply partial\n/exec shell {"command": "sleep 30"}')
        )
        await asyncio.wait_for(editor.waiting.wait(), 30)  # the permission prompt is open
        await conn.cancel(session_id=session_id)
        assert await asyncio.wait_for(turn, 30) == "cancelled"

        async def run_cancelled() -> None:
            while emulator.counters.runs_cancelled == cancelled_before:  # noqa: ASYNC110
                await asyncio.sleep(0.02)

        await asyncio.wait_for(run_cancelled(), 20)
        # The session carries on afterwards.
        editor.updates.clear()
        assert await prompt(conn, session_id, "/reply still here") == "end_turn"
        assert editor.text() == "still here"


async def test_the_agents_todo_list_becomes_the_plan(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    editor = Editor(str(tmp_path))
    async with agent_session(emulator, editor, []) as (conn, session_id):
        script = (
            "/todo completed Read the code\n/todo in_progress Fix the bug\n"
            "/todo cancelled Rewrite everything\n/todo pending Run the tests\n/reply on it"
        )
        assert await prompt(conn, session_id, script) == "end_turn"
    (plan,) = [u for u in editor.updates if isinstance(u, AgentPlanUpdate)]
    assert [(e.content, e.status) for e in plan.entries] == [
        ("Read the code", "completed"),
        ("Fix the bug", "in_progress"),
        ("Run the tests", "pending"),
    ]
    assert editor.updates.index(plan) < next(
        i for i, u in enumerate(editor.updates) if isinstance(u, AgentMessageChunk)
    )


async def test_modes_models_and_session_load(emulator: EmulatorServer, tmp_path: Path) -> None:
    editor = Editor(str(tmp_path), permission="allow")
    async with agent_session(emulator, editor, []) as (conn, session_id):
        await conn.set_session_mode(session_id=session_id, mode_id="read-only")
        write = json.dumps({"path": "x.txt", "file_text": "x"})
        await prompt(conn, session_id, f"/exec write {write}")
        assert "read-only" in editor.text() and not editor.permission_requests
        changed = await conn.set_config_option(
            config_id="model", session_id=session_id, value="claude-4.6-sonnet"
        )
        (option,) = changed.config_options
        assert option.current_value == "claude-4.6-sonnet"
        assert "gpt-5.4" in {o.value for o in option.options}
        with pytest.raises(RequestError):
            await conn.set_config_option(config_id="model", session_id=session_id, value="nope")
        await prompt(conn, session_id, "/reply remember me")
    # A new agent process loads the session: the history is replayed, then continued.
    second = Editor(str(tmp_path))
    async with agent_session(emulator, second, []) as (conn, _):
        await conn.load_session(cwd=str(tmp_path), session_id=session_id)
        assert "remember me" in second.text()
        second.updates.clear()
        await prompt(conn, session_id, "/recall")
        assert "remember me" in second.text()


async def test_editor_passed_and_bridge_hosted_mcp_servers(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    editor = Editor(str(tmp_path))
    server = McpServerStdio(
        name="editor tools", command=sys.executable, args=[str(SERVER_SCRIPT), "stdio"], env=[]
    )
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {"mcpServers": {"bridge": {"command": sys.executable, "args": [str(SERVER_SCRIPT)]}}}
        )
    )
    env = {"CURSOR_BRIDGE_MCP_CONFIG": str(config)}
    async with agent_session(emulator, editor, [], env, mcp_servers=[server]) as (conn, session_id):
        await prompt(
            conn, session_id, '/tool editor tools.add {"a": 2, "b": 40}\n/tool bridge.whoami {}'
        )
        lines = editor.text().splitlines()
        assert lines[:2] == ["Tool results:", "- editor tools.add: 42"]
        assert lines[2].startswith("- bridge.whoami: ") and lines[2].split(": ")[1].isdigit()
        # Each hosted call shows as a tool call: started, then completed with its outcome.
        starts = {u.title: u for u in editor.updates if isinstance(u, ToolCallStart)}
        add = starts['editor tools.add {"a":2,"b":40}']
        assert add.status == "in_progress" and "bridge.whoami {}" in starts
        (done,) = [
            u
            for u in editor.updates
            if isinstance(u, ToolCallProgress) and u.tool_call_id == add.tool_call_id
        ]
        assert done.status == "completed" and done.content[0].content.text == "ok: 42"
        assert not editor.thoughts()


def _save(path: Path, transcript: list[dict[str, Any]], root: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for entry in transcript:
            out.write(json.dumps(entry).replace(root, "/home/user/project") + "\n")
