"""Shell-only clients (Codex): the commands the adapters generate really do the job.

Each test maps a built-in exec onto Codex's `exec_command`, runs the generated command with
/bin/sh in a temporary directory, wraps its output the way Codex reports it, and checks the
typed result native_result makes of it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from client_tools import CODEX, event, only

from cursor_bridge.engine.adapters import ClientCall, map_builtin, native_result
from cursor_bridge.protocol.events import ExecRequested
from cursor_bridge.protocol.messages import agent


def run_like_codex(call: ClientCall, cwd: Path) -> str:
    """Run the call's command and format the result as Codex's exec_command does."""
    assert call.name == "exec_command"
    workdir = call.arguments.get("workdir", str(cwd))
    done = subprocess.run(
        ["/bin/sh", "-c", call.arguments["cmd"]],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return (
        "Chunk ID: 7a1c\nWall time: 0.0100 seconds\n"
        f"Process exited with code {done.returncode}\nOriginal token count: 12\nOutput:\n"
        f"{done.stdout}{done.stderr}"
    )


def answer(request: ExecRequested, cwd: Path) -> agent.ExecClientMessage:
    call = map_builtin(request, CODEX)
    assert call is not None
    return only(native_result(request, call, run_like_codex(call, cwd), False, workspace=str(cwd)))


def test_write_then_read_back_exact_bytes(tmp_path: Path) -> None:
    body = "line 'one'\n$HOME `x` \\n \"two\"\n\tno newline at end"
    target = tmp_path / "deep" / "new file.txt"
    written = answer(event("write_args", path=str(target), file_text=body), tmp_path)
    assert written.write_result.success.lines_created == 3
    assert target.read_text() == body
    read = answer(event("read_args", path=str(target)), tmp_path)
    assert read.read_result.success.content == body
    part = answer(event("read_args", path=str(target), offset=2, limit=1), tmp_path)
    assert part.read_result.success.content == '$HOME `x` \\n "two"\n'


def test_read_missing_file_is_not_found(tmp_path: Path) -> None:
    result = answer(event("read_args", path=str(tmp_path / "nope.txt")), tmp_path)
    assert result.read_result.WhichOneof("result") == "file_not_found"


def test_delete_removes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "old.txt"
    target.write_text("x")
    result = answer(event("delete_args", path=str(target)), tmp_path)
    assert result.delete_result.success.path == str(target)
    assert not target.exists()


def test_ls_lists_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "README.md").write_text("x")
    (tmp_path / ".env").write_text("x")
    result = answer(event("ls_args", path=str(tmp_path)), tmp_path)
    root = result.ls_result.success.directory_tree_root
    assert root.abs_path == str(tmp_path)
    assert sorted(f.name for f in root.children_files) == [".env", "README.md"]
    assert [d.abs_path for d in root.children_dirs] == [str(tmp_path / "src")]


def test_grep_content_files_count_and_glob(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import os\nTODO: fix\nx = 1  # todo\n")
    (tmp_path / "b.txt").write_text("TODO: txt\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.py").write_text("TODO: hidden\n")
    ws = str(tmp_path)

    content = answer(event("grep_args", pattern="TODO", path=ws, glob="*.py"), tmp_path)
    union = content.grep_result.success.workspace_results[ws].content
    assert [(m.file, [x.line_number for x in m.matches]) for m in union.matches] == [
        ("pkg/a.py", [2])
    ]

    loose = answer(
        event(
            "grep_args",
            pattern="todo",
            path=ws,
            case_insensitive=True,
            output_mode="files_with_matches",
        ),
        tmp_path,
    )
    assert sorted(loose.grep_result.success.workspace_results[ws].files.files) == [
        "b.txt",
        "pkg/a.py",
    ]

    counted = answer(
        event("grep_args", pattern="TODO|todo", path=ws, output_mode="count"), tmp_path
    )
    counts = counted.grep_result.success.workspace_results[ws].count
    assert sorted((c.file, c.count) for c in counts.counts) == [("b.txt", 1), ("pkg/a.py", 2)]

    none = answer(event("grep_args", pattern="absent-string", path=ws), tmp_path)
    assert none.grep_result.success.workspace_results[ws].content.total_lines == 0

    globbed = answer(event("grep_args", pattern="", path=ws, glob="**/*.py"), tmp_path)
    assert list(globbed.grep_result.success.workspace_results[ws].files.files) == ["pkg/a.py"]


def test_shell_stream_exit_code_and_output(tmp_path: Path) -> None:
    request = event(
        "shell_stream_args",
        command="echo hi; echo oops >&2; exit 4",
        working_directory=str(tmp_path),
    )
    call = map_builtin(request, CODEX)
    assert call is not None
    messages = native_result(request, call, run_like_codex(call, tmp_path), False)
    kinds = [m.shell_stream.WhichOneof("event") for m in messages]
    assert kinds == ["start", "stdout", "exit"]
    assert messages[1].shell_stream.stdout.data == "hi\noops\n"
    assert messages[2].shell_stream.exit.code == 4
