"""Built-in execs end to end: the emulator's `/exec KIND` sends a real exec request over HTTP/2,
the client side (RunMachine over the transport) answers it with the bridge's executor or the
client-tool adapters, and the scripted model quotes what it received."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cursor_bridge.emulator import EmulatorServer
from cursor_bridge.emulator.exec_call import ExecCall
from cursor_bridge.emulator.script import EXEC_WORDS
from cursor_bridge.emulator.tools import builtin_display
from cursor_bridge.engine.adapters import map_builtin, native_result, refuse
from cursor_bridge.engine.exec_registry import REGISTRY
from cursor_bridge.engine.executor import BuiltinExecutor
from cursor_bridge.engine.upstream import UpstreamRun
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.exec_kinds import display_member, exec_kinds, result_field
from cursor_bridge.protocol.headers import RUN_PATH, ClientIdentity, run_headers
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool
from tests.engine.client_tools import OPENCODE

Answer = Callable[[ev.ExecRequested], Awaitable[list[agent.ExecClientMessage]]]


async def run_turn(emulator: EmulatorServer, text: str, answer: Answer) -> tuple[str, list[str]]:
    """One Run against the emulator; every exec goes to `answer`. Returns (text, exec kinds)."""
    context = agent.RequestContext(
        env=agent.RequestContextEnv(workspace_paths=["/w"], shell="/bin/sh", time_zone="UTC"),
        tools=[
            agent.McpToolDefinition(
                name="opencode-bash", tool_name="bash", provider_identifier="opencode"
            )
        ],
        mcp_meta_tool_options=agent.McpMetaToolOptions(
            enabled=True,
            mcp_descriptors=[agent.McpDescriptor(server_name="oc", server_identifier="opencode")],
        ),
    )
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=context)
    user = agent.UserMessage(text=text, message_id="m-1")
    request = agent.AgentRunRequest(
        action=agent.ConversationAction(
            user_message_action=agent.UserMessageAction(user_message=user)
        ),
        conversation_id="c-builtins",
        requested_model=agent.RequestedModel(model_id="claude-4.6-sonnet"),
    )
    pool = BackendPool()
    try:
        headers = run_headers(None, ClientIdentity(), now_ms=int(time.time() * 1000))
        stream = await pool.open_stream(emulator.url + RUN_PATH, headers)
        run = UpstreamRun(stream, machine, request, heartbeat_interval=1.0, idle_timeout=30)
        texts: list[str] = []
        kinds: list[str] = []
        async for batch in run.batches():
            for event in batch:
                if isinstance(event, ev.TextDelta):
                    texts.append(event.text)
                elif isinstance(event, ev.ExecRequested):
                    kinds.append(event.kind)
                    machine.send_exec_result(*await answer(event))
            await run.flush()
        return "".join(texts), kinds
    finally:
        await pool.aclose()


def quoted_list(text: str) -> list[tuple[str, str]]:
    """The `- LABEL: RESULT` entries of the emulator's answer, in order."""
    parts = text.split("\n- ")
    assert parts[0] == "Tool results:", text
    return [(label, result) for label, result in (part.split(": ", 1) for part in parts[1:])]


def quoted(text: str) -> dict[str, str]:
    return dict(quoted_list(text))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path.resolve()
    (root / "notes.txt").write_text("a needle in a haystack\n")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('needle')\n")
    return root


async def test_executor_answers_are_quoted_by_the_model(
    emulator: EmulatorServer, workspace: Path
) -> None:
    tmp_path = workspace
    executor = BuiltinExecutor(tmp_path, allow_write=True, allow_shell=True, timeout=10)
    script = "\n".join(
        [
            '/exec read {"path": "notes.txt"}',
            '/exec ls {"path": ""}',
            '/exec grep {"pattern": "needle", "outputMode": "files_with_matches"}',
            '/exec shell {"command": "echo from-the-shell"}',
            "/then",
            '/exec write {"path": "out/new.txt", "fileText": "written\\n"}',
            '/exec shell-sync {"command": "cat out/new.txt; exit 2"}',
            '/exec delete {"path": "notes.txt"}',
            '/exec read {"path": "../escape.txt"}',
        ]
    )
    text, kinds = await run_turn(emulator, script, executor.execute)
    assert kinds == [
        "read_args",
        "ls_args",
        "grep_args",
        "shell_stream_args",
        "write_args",
        "shell_args",
        "delete_args",
        "read_args",
    ]
    entries = quoted_list(text)
    labels = [label for label, _ in entries]
    assert labels == ["read", "ls", "grep", "shell", "write", "shell-sync", "delete", "read"]
    results = [result for _, result in entries]
    read = json.loads(results[0].removeprefix("success "))
    assert read == {
        "content": "a needle in a haystack\n",
        "fileSize": "23",
        "path": "notes.txt",
        "totalLines": 1,
    }
    tree = json.loads(results[1].removeprefix("success "))["directoryTreeRoot"]
    assert tree["absPath"] == str(tmp_path)
    assert [f["name"] for f in tree["childrenFiles"]] == ["notes.txt"]
    assert tree["childrenDirs"][0]["childrenFiles"] == [{"name": "app.py"}]
    grep = json.loads(results[2].removeprefix("success "))
    (found,) = grep["workspaceResults"].values()
    assert found["files"]["files"] == ["notes.txt", "src/app.py"]
    assert results[3] == "exit 0: from-the-shell\n"
    write = json.loads(results[4].removeprefix("success "))
    assert write == {"fileSize": 8, "linesCreated": 1, "path": "out/new.txt"}
    failure = json.loads(results[5].removeprefix("failure "))
    assert (failure["exitCode"], failure["stdout"]) == (2, "written\n")
    delete = json.loads(results[6].removeprefix("success "))
    assert delete["prevContent"] == "a needle in a haystack\n"
    assert results[7].startswith(
        'rejected {"path":"../escape.txt","reason":"../escape.txt is outside'
    )
    assert not (tmp_path / "notes.txt").exists()
    assert emulator.counters.runs_opened == 1


async def test_disabled_executor_refusals_reach_the_model(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    executor = BuiltinExecutor(tmp_path)
    script = '/exec shell {"command": "rm -rf ~"}\n/exec write {"path": "x", "fileText": "y"}'
    text, _ = await run_turn(emulator, script, executor.execute)
    results = quoted(text)
    assert results["shell"].startswith("rejected: Running shell commands is disabled")
    assert "--allow-shell" in results["shell"]
    assert results["write"].startswith('rejected {"path":"x","reason":"Writing and deleting files')


# Fake OpenCode tool output per role, in OpenCode's own formats.
_OPENCODE_OUTPUT = {
    "read": "<path>/w/a.py</path>\n<type>file</type>\n<content>\n1: x = 1\n\n(End of file - total 1 lines)\n</content>",
    "write": "Wrote file successfully.",
    "list": "<path>/w</path>\n<type>directory</type>\n<entries>\na.py\n\n(1 entries)\n</entries>",
    "grep": "Found 1 matches\n/w/a.py:\n  Line 1: x = 1",
    "glob": "/w/a.py",
    "shell": "ok\n",
    "fetch": "# Page",
    "edit": "Edit applied successfully.",
    "task": "Subagent finished.",
}
# One /exec line per built-in kind the emulator can send (all but mcp and request_context).
_LINES = {
    "read": '{"path": "/w/a.py"}',
    "write": '{"path": "/w/a.py", "fileText": "x = 1\\n"}',
    "ls": '{"path": "/w"}',
    "grep": '{"pattern": "x", "path": "/w"}',
    "delete": '{"path": "/w/old.py"}',
    "shell": '{"command": "echo ok"}',
    "shell-sync": '{"command": "echo ok"}',
    "diagnostics": '{"path": "/w/a.py"}',
    "fetch": '{"url": "https://example.com"}',
    "background-shell": '{"command": "sleep 60"}',
    "write-shell-stdin": '{"shellId": 3, "chars": "q"}',
    "list-mcp-resources": "{}",
    "read-mcp-resource": '{"server": "docs", "uri": "docs://a"}',
    "mcp-state": "{}",
    "record-screen": '{"mode": 1}',
    "computer-use": "{}",
    "subagent": '{"prompt": "survey the code", "subagentType": "general"}',
    "pi-read": '{"path": "/w/a.py"}',
    "pi-bash": '{"command": "echo ok", "timeout": 5}',
    "pi-edit": '{"path": "/w/a.py", "edits": [{"oldText": "x", "newText": "y"}]}',
    "pi-write": '{"path": "/w/b.py", "content": "z"}',
    "pi-grep": '{"pattern": "x", "path": "/w"}',
    "pi-find": '{"pattern": "*.py", "path": "/w"}',
    "pi-ls": '{"path": "/w"}',
}


async def test_every_builtin_result_kind_is_accepted_by_the_emulator(
    emulator: EmulatorServer,
) -> None:
    async def answer(event: ev.ExecRequested) -> list[agent.ExecClientMessage]:
        call = map_builtin(event, OPENCODE)
        if call is None:
            return refuse(event, OPENCODE, server="opencode")
        output = _OPENCODE_OUTPUT["shell" if call.name == "bash" else call.role]
        if event.kind == "background_shell_spawn_args":
            output = "4321\n"
        return native_result(event, call, output, False, workspace="/w")

    script = "\n".join(f"/exec {kind} {args}" for kind, args in _LINES.items())
    text, kinds = await run_turn(emulator, script, answer)
    # request_context and mcp_state probes are answered by the RunMachine itself.
    answered_by_machine = {"mcp_args", "request_context_args", "mcp_state_exec_args"}
    assert set(kinds) == set(REGISTRY) - answered_by_machine
    results = quoted(text)
    assert "mismatched" not in text
    expect = {
        "read": 'success {"content":"x = 1","fileSize":"5","path":"/w/a.py","totalLines":1}',
        "write": 'success {"fileSize":6,"linesCreated":1,"path":"/w/a.py"}',
        "delete": 'success {"deletedFile":"/w/old.py","path":"/w/old.py"}',
        "shell": "exit 0: ok\n",
        "fetch": 'success {"content":"# Page","contentType":"text/markdown","statusCode":200,"url":"https://example.com"}',
        "background-shell": 'success {"command":"sleep 60","pid":4321,"shellId":4321}',
        "list-mcp-resources": "success {}",
        "pi-read": 'success {"output":"x = 1"}',
        "pi-edit": 'success {"output":"Edit applied successfully."}',
        "pi-find": 'success {"output":"/w/a.py"}',
    }
    for label, quote in expect.items():
        assert results[label] == quote, label
    assert results["ls"].startswith('success {"directoryTreeRoot":{"absPath":"/w"')
    assert '"files":["a.py"]' not in results["grep"] and '"lineNumber":1' in results["grep"]
    assert results["shell-sync"].startswith('success {"command":"echo ok"')
    assert results["diagnostics"].startswith("rejected ") and "`bash`" in results["diagnostics"]
    assert results["write-shell-stdin"].startswith("error ")
    assert results["read-mcp-resource"].startswith('error {"error":"Server \\"docs\\" not found')
    # Answered by the RunMachine from the context's MCP descriptors (current-client.md §3).
    assert results["mcp-state"] == (
        'success {"servers":[{"serverIdentifier":"opencode","serverName":"oc","tools":'
        '[{"name":"opencode-bash","providerIdentifier":"opencode","toolName":"bash"}]}]}'
    )
    assert results["record-screen"].startswith("failure ")
    assert results["computer-use"].startswith("error ")
    assert (
        results["subagent"]
        == 'success {"agentId":"'
        + results["subagent"].split('"')[3]
        + '","finalMessage":"Subagent finished."}'
    )
    for label in ("pi-bash", "pi-write", "pi-grep", "pi-ls"):
        assert results[label].startswith("success "), label
    for kind in REGISTRY:
        assert result_field(kind)  # every kind has a result slot the emulator checked


async def test_a_result_in_the_wrong_slot_is_not_taken_as_an_answer(
    emulator: EmulatorServer,
) -> None:
    async def wrong(event: ev.ExecRequested) -> list[agent.ExecClientMessage]:
        message = agent.ExecClientMessage(id=event.exec_id)
        if event.kind == "pi_read_args":
            # Same number as the request (45 is not a result slot); read_result is another kind's.
            message.read_result.success.content = "x"
        else:
            message.shell_result.success.stdout = "x"
        return [message]

    text, _ = await run_turn(
        emulator, '/exec pi-read {"path": "a"}\n/exec ls {"path": "/w"}', wrong
    )
    results = quoted(text)
    assert results["pi-read"] == (
        "mismatched result: read_result for pi_read_args (expected pi_read_result)"
    )
    assert results["ls"] == "mismatched result: shell_result for ls_args (expected ls_result)"


def test_the_emulator_scripts_every_kind_from_the_shared_wire_facts() -> None:
    # Every request field our schema declares is scriptable, but the MCP call (a /tool line)
    # and the request context (the RunMachine answers it).
    assert set(EXEC_WORDS.values()) == set(exec_kinds()) - {"mcp_args", "request_context_args"}
    assert set(EXEC_WORDS) == set(_LINES)  # the words the script language has always had
    assert EXEC_WORDS["shell"] == "shell_stream_args"
    assert EXEC_WORDS["shell-sync"] == "shell_args"
    assert EXEC_WORDS["list-mcp-resources"] == "list_mcp_resources_exec_args"


async def test_display_records_follow_the_schema() -> None:
    # The ToolCall records whose args are a request's own args message (the emulator shows
    # those kinds as tool calls); a result is kept only when it is the record's type.
    shown = {kind: display_member(kind) for kind in exec_kinds() if display_member(kind)}
    assert shown == {
        "shell_args": "shell_tool_call",
        "shell_stream_args": "shell_tool_call",
        "delete_args": "delete_tool_call",
        "grep_args": "grep_tool_call",
        "ls_args": "ls_tool_call",
        "mcp_args": "mcp_tool_call",
    }
    loop = asyncio.get_running_loop()
    sync = ExecCall(1, "shell_args", loop.create_future())
    sync.results.append(agent.ExecClientMessage(id=1))
    sync.results[0].shell_result.success.stdout = "ok"
    record = builtin_display("shell_args", agent.ShellArgs(command="ls"), sync)
    assert record is not None and record.shell_tool_call.result.success.stdout == "ok"
    stream = ExecCall(2, "shell_stream_args", loop.create_future())
    stream.results.append(agent.ExecClientMessage(id=2))
    stream.results[0].shell_stream.stdout.data = "ok"
    record = builtin_display("shell_stream_args", agent.ShellArgs(command="ls"), stream)
    assert record is not None and record.shell_tool_call.args.command == "ls"
    assert not record.shell_tool_call.HasField("result")
    assert builtin_display("read_args", agent.ReadArgs(path="a")) is None
