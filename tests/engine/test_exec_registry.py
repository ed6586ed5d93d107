"""The exec-kind registry: every kind has one record, and what cannot run is refused in
the kind's own result case with a reason naming the client's tools."""

from __future__ import annotations

import json
from pathlib import Path

from client_tools import (
    GENERIC,
    OPENCODE,
    event,
    only,
    wire,
)
from google.protobuf import json_format

from cursor_bridge.engine.adapters import (
    map_builtin,
    native_result,
    refuse,
)
from cursor_bridge.engine.exec_registry import RECORDS, REGISTRY
from cursor_bridge.engine.executor import BuiltinExecutor
from cursor_bridge.protocol.exec_kinds import WIRE, exec_kinds, result_field

# -- coverage of every exec kind, refusals --------------------------------------------------

# One plausible request per kind (arguments by proto JSON names).
_SAMPLES: dict[str, dict[str, object]] = {
    "shell_args": {"command": "ls"},
    "write_args": {"path": "/w/a", "file_text": "x"},
    "delete_args": {"path": "/w/a"},
    "grep_args": {"pattern": "x"},
    "read_args": {"path": "/w/a"},
    "ls_args": {"path": "/w"},
    "shell_stream_args": {"command": "ls"},
    "background_shell_spawn_args": {"command": "sleep 1"},
    "fetch_args": {"url": "https://example.com"},
    "subagent_args": {"prompt": "look around"},
    "pi_read_args": {"path": "/w/a"},
    "pi_bash_args": {"command": "ls"},
    "pi_edit_args": {"path": "/w/a", "edits": [{"old_text": "a", "new_text": "b"}]},
    "pi_write_args": {"path": "/w/a", "content": "x"},
    "pi_grep_args": {"pattern": "x", "path": "/w"},
    "pi_find_args": {"pattern": "*.py", "path": "/w"},
    "pi_ls_args": {"path": "/w"},
}


def test_every_exec_kind_has_a_declared_handling() -> None:
    assert set(exec_kinds()) == set(REGISTRY)
    for kind, record in REGISTRY.items():
        handling = record.handling
        request = event(kind, **_SAMPLES.get(kind, {}))
        mapped = map_builtin(request, OPENCODE)
        if handling == "client":
            assert mapped is not None, f"{kind} is marked client but has no mapping"
        else:
            assert mapped is None, f"{kind} must not reach the client's tools"
        answer = wire(refuse(request, OPENCODE))
        assert answer, kind
        for message in answer:
            assert (message.id, message.exec_id) == (7, "exec-key")
            assert message.WhichOneof("message") == result_field(kind)


def test_refusals_name_the_client_tools() -> None:
    for kind in (
        "diagnostics_args",
        "record_screen_args",
        "computer_use_args",
        "write_shell_stdin_args",
    ):
        message = only(refuse(event(kind, path="/w/a.py"), OPENCODE))
        text = str(getattr(message, result_field(kind)))
        assert "bash, edit, glob, grep, read" in text, text
    lint = only(refuse(event("diagnostics_args", path="/w/a.py"), OPENCODE)).diagnostics_result
    assert (
        lint.rejected.path == "/w/a.py"
        and "linter" in lint.rejected.reason
        and "`bash`" in lint.rejected.reason
    )
    shell = only(refuse(event("shell_stream_args", command="rm -rf /"), []))
    assert shell.shell_stream.rejected.command == "rm -rf /"
    assert "No tools are available" in shell.shell_stream.rejected.reason
    grep = only(refuse(event("grep_args", pattern="x"), GENERIC[1:]))
    assert "read_file" in grep.grep_result.error.error
    pi = only(refuse(event("pi_write_args", path="/w/a"), []))
    assert pi.WhichOneof("message") == "pi_write_result" and pi.pi_write_result.HasField("rejected")


def test_bridge_answers_mcp_resources_and_state() -> None:
    listed = only(refuse(event("list_mcp_resources_exec_args"), OPENCODE))
    assert listed.list_mcp_resources_exec_result.HasField("success")
    assert len(listed.list_mcp_resources_exec_result.success.resources) == 0
    read = only(
        refuse(event("read_mcp_resource_exec_args", server="docs", uri="docs://x"), OPENCODE)
    )
    assert read.read_mcp_resource_exec_result.error.uri == "docs://x"
    assert 'Server "docs" not found' in read.read_mcp_resource_exec_result.error.error
    mcp = only(refuse(event("mcp_args"), OPENCODE))
    assert "bash" in mcp.mcp_result.error.error


def test_error_texts_without_an_error_flag_are_errors() -> None:
    # OpenAI-style tool messages cannot flag failure; OpenCode sends its error text as-is.
    read = event("read_args", path="/w/missing.py")
    call = map_builtin(read, OPENCODE)
    assert call is not None
    missing = only(native_result(read, call, "File not found: /w/missing.py", False))
    assert missing.read_result.WhichOneof("result") == "file_not_found"
    # A real file whose first line says "Error" is still data once wrapped by the client.
    wrapped = "<path>/w/e.txt</path>\n<type>file</type>\n<content>\n1: Error: expected\n\n(End of file - total 1 lines)\n</content>"
    data = only(native_result(read, call, wrapped, False))
    assert data.read_result.success.content == "Error: expected"

    grep = event("grep_args", pattern="x", path="/w")
    grep_call = map_builtin(grep, OPENCODE)
    assert grep_call is not None
    failed = only(native_result(grep, grep_call, "ripgrep execution failed", False))
    assert failed.grep_result.error.error == "ripgrep execution failed"
    # Bare file names are still file names.
    listed = only(native_result(grep, grep_call, "README\nMakefile", False, workspace="/w"))
    assert list(listed.grep_result.success.workspace_results["/w"].files.files) == [
        "README",
        "Makefile",
    ]


# -- the registry itself --------------------------------------------------------------------


def test_every_kind_has_one_wire_row_and_one_engine_record() -> None:
    kinds = exec_kinds()
    assert len(RECORDS) == len(REGISTRY) == len(kinds)  # no kind twice
    assert set(REGISTRY) == set(WIRE) == set(kinds)
    for kind, record in REGISTRY.items():
        client = record.handling == "client"
        assert (record.to_client is not None) == client, kind
        assert (record.from_client is not None) == client, kind
        # A fixed answer or a reason of its own is for what the bridge or protocol answers.
        if record.answer is not None or record.client_reason is not None:
            assert record.handling in ("bridge", "protocol"), kind
        assert record.display_label and "_" not in record.display_label, kind


async def test_the_executor_answers_by_the_registry_record(tmp_path: Path) -> None:
    """Without write or shell rights, every kind is run, refused by its flag, or refused
    with the record's own text (or fixed answer), in the kind's own result field."""
    (tmp_path / "a.py").write_text("x = 1\n")
    executor = BuiltinExecutor(tmp_path, sandbox=False)
    for kind, record in REGISTRY.items():
        request = event(kind, **_SAMPLES.get(kind, {"path": str(tmp_path)}))
        answer = wire(await executor.execute(request))
        assert answer and all(m.WhichOneof("message") == result_field(kind) for m in answer)
        text = json.dumps(json_format.MessageToDict(answer[-1]))
        if record.bridge_tool in ("write", "edit", "delete"):
            assert "--allow-write" in text, kind
        elif record.bridge_tool == "shell":
            assert "--allow-shell" in text, kind
        elif record.bridge_tool is None and record.answer is None:
            assert record.bridge_refusal.split(";")[0] in text, kind
    assert await executor.execute(event("unknown")) == []
