"""The exec kinds' wire facts: the result-field rule, typed argument views, result builders."""

from __future__ import annotations

import base64

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from cursor_bridge.protocol import exec_kinds
from cursor_bridge.protocol.events import ExecRequested
from cursor_bridge.protocol.exec_kinds import files, pi, search, services, shell
from cursor_bridge.protocol.exec_kinds.files import Entry, LsArgs, ReadArgs, WriteArgs, ls_tree
from cursor_bridge.protocol.exec_kinds.pi import Edit, PiBashArgs, PiEditArgs
from cursor_bridge.protocol.exec_kinds.search import GrepArgs, GrepMatch, grep_content
from cursor_bridge.protocol.exec_kinds.shell import (
    ABORT_REASON_TIMEOUT,
    ShellArgs,
    ShellOutcome,
    shell_result,
    shell_spawn_error,
    shell_stream,
)
from cursor_bridge.protocol.messages import agent
from tests.engine.client_tools import event, only, wire


def test_result_field_is_the_request_number_except_pi() -> None:
    request = agent.ExecServerMessage.DESCRIPTOR.fields_by_name
    result = agent.ExecClientMessage.DESCRIPTOR.fields_by_name
    for kind in exec_kinds.exec_kinds():
        answer = exec_kinds.result_field(kind)
        shift = 1 if kind.startswith("pi_") else 0
        assert result[answer].number == request[kind].number + shift, kind
    assert exec_kinds.result_field("shell_stream_args") == "shell_stream"
    assert exec_kinds.result_field("pi_ls_args") == "pi_ls_result"
    with pytest.raises(ValueError):
        exec_kinds.result_field("exec_id")


def test_typed_args_rebuilds_the_request_message() -> None:
    args = exec_kinds.typed_args(
        event("grep_args", pattern="x", head_limit=3, tool_call_id="t", bogus=1)
    )
    assert isinstance(args, agent.GrepArgs)
    assert (args.pattern, args.head_limit, args.tool_call_id) == ("x", 3, "t")


def test_ls_tree_nests_directories_and_counts_files() -> None:
    entries = [
        Entry("a.py"),
        Entry("docs", is_dir=True),
        Entry("src/lib/util.py"),
        Entry("src/main.py"),
        Entry("../escape.txt"),
    ]
    root = ls_tree("/w/", entries)
    assert root.abs_path == "/w" and root.num_files == 3
    assert [d.abs_path for d in root.children_dirs] == ["/w/docs", "/w/src"]
    docs, src = root.children_dirs
    assert not docs.children_were_processed  # listed, but never looked into
    assert src.children_were_processed and src.num_files == 2
    assert [d.abs_path for d in src.children_dirs] == ["/w/src/lib"]
    assert dict(root.full_subtree_extension_counts) == {".py": 3}
    explicit = ls_tree("/w", [Entry("docs", True)], processed={"", "docs"})
    assert explicit.children_dirs[0].children_were_processed


def test_grep_content_groups_by_file_and_marks_context() -> None:
    matches = [
        GrepMatch("a.py", 1, "before", is_context=True),
        GrepMatch("a.py", 2, "hit"),
        GrepMatch("b.py", 7, "hit too"),
    ]
    message = only(grep_content(event("grep_args", pattern="hit"), matches, workspace="/w"))
    content = message.grep_result.success.workspace_results["/w"].content
    assert [m.file for m in content.matches] == ["a.py", "b.py"]
    assert [x.is_context_line for x in content.matches[0].matches] == [True, False]
    assert (content.total_lines, content.total_matched_lines) == (3, 2)


def test_shell_results_success_failure_timeout_spawn_error() -> None:
    sync = event("shell_args", command="x", working_directory="/w")
    ok = only(shell_result(sync, ShellOutcome(0, "out", "err", 12)))
    assert ok.shell_result.success.stdout == "out" and ok.shell_result.success.execution_time == 12
    bad = only(shell_result(sync, ShellOutcome(137, signal="SIGKILL")))
    assert (
        bad.shell_result.failure.exit_code == 137 and bad.shell_result.failure.signal == "SIGKILL"
    )
    late = only(shell_result(sync, ShellOutcome(137, timed_out=True, timeout_ms=500)))
    assert late.shell_result.timeout.timeout_ms == 500
    spawn = only(shell_spawn_error(sync, "no /bin/sh"))
    assert spawn.shell_result.spawn_error.error == "no /bin/sh"

    stream = event("shell_stream_args", command="x", working_directory="/w")
    killed = wire(shell_stream(stream, ShellOutcome(137, "a", "b", timed_out=True)))
    assert [m.shell_stream.WhichOneof("event") for m in killed] == [
        "start",
        "stdout",
        "stderr",
        "exit",
    ]
    assert killed[-1].shell_stream.exit.aborted
    assert killed[-1].shell_stream.exit.abort_reason == ABORT_REASON_TIMEOUT
    failed_start = wire(shell_spawn_error(stream, "no shell"))
    assert failed_start[-1].shell_stream.exit.code == 127


def test_refusal_covers_every_kind_with_its_own_case() -> None:
    for kind in exec_kinds.exec_kinds():
        (message,) = wire(exec_kinds.refusal(event(kind), "nope"))
        result = getattr(message, exec_kinds.result_field(kind))
        oneof = "event" if kind == "shell_stream_args" else "result"
        case = result.WhichOneof(oneof)
        assert case in ("rejected", "error", "failure"), (kind, case)
        assert "nope" in str(result)
    assert exec_kinds.refusal(event("unknown"), "nope") == []


# -- typed views of the arguments --------------------------------------------------------------


def _decoded(kind: str, message: Message) -> ExecRequested:
    """The event the RunMachine makes of a request (its JSON form, proto field names)."""
    request = agent.ExecServerMessage(id=3, exec_id="e")
    getattr(request, kind).CopyFrom(message)
    args = json_format.MessageToDict(getattr(request, kind), preserving_proto_field_name=True)
    return ExecRequested(3, "e", kind, args)


def test_args_are_parsed_once_into_the_kinds_typed_view() -> None:
    read = _decoded("read_args", agent.ReadArgs(path="/w/a.py", offset=4, limit=2))
    assert read.view == ReadArgs("/w/a.py", 4, 2)
    assert isinstance(_decoded("pi_read_args", agent.PiReadExecArgs(path="p")).view, ReadArgs)
    shell = _decoded("shell_stream_args", agent.ShellArgs(command="ls", timeout=900))
    assert shell.view == ShellArgs("ls", "", 900)
    bash = _decoded("pi_bash_args", agent.PiBashExecArgs(command="ls", timeout=2.5))
    assert bash.view == PiBashArgs("ls", "", 2.5)
    # Presence-tracked grep fields: set to zero is not the same as unset.
    grep = _decoded("grep_args", agent.GrepArgs(pattern="x", context=0, head_limit=5))
    args = exec_kinds.view(grep, GrepArgs)
    assert (args.context, args.context_before, args.head_limit) == (0, None, 5)
    assert (args.mode, args.type, args.multiline) == ("content", None, None)
    edit = agent.PiEditExecArgs(path="a")
    edit.edits.add(old_text="1", new_text="2")
    assert _decoded("pi_edit_args", edit).view == PiEditArgs("a", (Edit("1", "2"),))
    assert isinstance(ExecRequested(1, "k", "unknown").view, exec_kinds.NoArgs)
    # The view is derived: events compare by what was sent.
    assert ExecRequested(1, "k", "read_args", {"path": "a"}) == ExecRequested(
        1, "k", "read_args", {"path": "a"}
    )


def test_loosely_typed_arguments_are_survived() -> None:
    read = event("read_args", path=7, offset="3", limit="many")
    assert read.view == ReadArgs("7", 3, 0)
    edits = event("pi_edit_args", path="a", edits=[{"old_text": "x"}, "junk"]).view
    assert edits == PiEditArgs("a", (Edit("x", ""),))
    assert event("ls_args", ignore="not-a-list").view == LsArgs("", (), 0)
    with pytest.raises(TypeError):
        exec_kinds.view(read, ShellArgs)


def test_write_content_prefers_file_bytes_in_their_encoding() -> None:
    latin = base64.b64encode("é".encode("latin-1")).decode()
    write = exec_kinds.view(
        event(
            "write_args", path="a", file_text="ignored", file_bytes=latin, encoding_hint="latin-1"
        ),
        WriteArgs,
    )
    assert (write.content(), write.data()) == ("é", "é".encode("latin-1"))
    binary = exec_kinds.view(
        event("write_args", file_bytes=base64.b64encode(b"\xff").decode()), WriteArgs
    )
    assert binary.content() is None and binary.data() == b"\xff"
    broken = exec_kinds.view(event("write_args", file_bytes="@@@"), WriteArgs)
    assert broken.content() is None and broken.data() is None
    pi = exec_kinds.view(event("pi_write_args", path="a", content="z"), WriteArgs)
    assert (pi.content(), pi.data()) == ("z", b"z")


def test_every_kind_has_one_wire_row() -> None:
    assert set(exec_kinds.WIRE) == set(exec_kinds.exec_kinds())
    rows = [row for module in _FACT_MODULES for row in module.WIRE]
    assert len(rows) == len(exec_kinds.WIRE)  # no kind in two modules


_FACT_MODULES = (files, search, shell, pi, services)
