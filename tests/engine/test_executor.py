"""The bridge's sandboxed executor: confined to its workspace, writes and shell behind flags."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest
from client_tools import event, only, wire

from cursor_bridge.engine.executor import BuiltinExecutor
from cursor_bridge.protocol.messages import agent
from tests.support.polling import wait_until
from tests.support.processes import running, unique_seconds


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "main.py").write_text("import os\n\ndef main():\n    return TODO\n")
    (root / "src" / "pkg" / "util.py").write_text("def todo():\n    pass  # todo: later\n")
    (root / "README.md").write_text("# Demo\nTODO: write docs\n")
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("// TODO in a dependency\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("TODO not searched\n")
    (root / "blob.bin").write_bytes(b"TODO\0\1\2")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    return root.resolve()


def executor(ws: Path, **flags: object) -> BuiltinExecutor:
    return BuiltinExecutor(ws, **flags)  # type: ignore[arg-type]


async def run(ex: BuiltinExecutor, kind: str, **args: object) -> agent.ExecClientMessage:
    return only(await ex.execute(event(kind, **args)))


# -- read / confinement -------------------------------------------------------------------


async def test_read_relative_absolute_and_ranges(ws: Path) -> None:
    ex = executor(ws)
    rel = await run(ex, "read_args", path="src/main.py")
    success = rel.read_result.success
    assert success.content == "import os\n\ndef main():\n    return TODO\n"
    assert (success.total_lines, success.file_size, success.truncated) == (4, 39, False)
    assert (rel.id, rel.exec_id) == (7, "exec-key")
    absolute = await run(ex, "read_args", path=str(ws / "src" / "main.py"), offset=3, limit=1)
    assert absolute.read_result.success.content == "def main():\n"
    assert absolute.read_result.success.truncated


async def test_read_missing_directory_and_binary(ws: Path) -> None:
    ex = executor(ws)
    assert (await run(ex, "read_args", path="nope.txt")).read_result.HasField("file_not_found")
    assert (await run(ex, "read_args", path="src")).read_result.HasField("invalid_file")
    binary = await run(ex, "read_args", path="blob.bin")
    assert "binary" in binary.read_result.invalid_file.reason


@pytest.mark.parametrize(
    "path",
    ["../outside/secret.txt", "src/../../outside/secret.txt", "/etc/hostname", "OUTSIDE_ABS"],
)
async def test_paths_outside_the_workspace_are_rejected(ws: Path, path: str) -> None:
    if path == "OUTSIDE_ABS":
        path = str(ws.parent / "outside" / "secret.txt")
    message = await run(executor(ws), "read_args", path=path)
    assert message.read_result.WhichOneof("result") == "rejected"
    assert "outside the workspace" in message.read_result.rejected.reason
    assert "top secret" not in str(message)


async def test_symlinks_may_not_lead_outside(ws: Path) -> None:
    (ws / "link.txt").symlink_to(ws.parent / "outside" / "secret.txt")
    (ws / "linkdir").symlink_to(ws.parent / "outside", target_is_directory=True)
    (ws / "inner.txt").symlink_to(ws / "README.md")
    ex = executor(ws, allow_write=True)
    for path in ("link.txt", "linkdir/secret.txt"):
        message = await run(ex, "read_args", path=path)
        assert "symbolic link" in message.read_result.rejected.reason
    assert (await run(ex, "read_args", path="inner.txt")).read_result.success.content.startswith(
        "# Demo"
    )
    listing = await run(ex, "ls_args", path="linkdir")
    assert listing.ls_result.HasField("rejected")
    write = await run(ex, "write_args", path="linkdir/new.txt", file_text="x")
    assert write.write_result.HasField("rejected")
    assert not (ws.parent / "outside" / "new.txt").exists()
    # Deleting a link removes the link, never its target.
    gone = await run(ex, "delete_args", path="link.txt")
    assert gone.delete_result.HasField("success")
    assert not (ws / "link.txt").is_symlink()
    assert (ws.parent / "outside" / "secret.txt").read_text() == "top secret\n"


# -- write / delete -----------------------------------------------------------------------


async def test_write_and_delete_need_the_flag(ws: Path) -> None:
    ex = executor(ws)
    write = await run(ex, "write_args", path="new.txt", file_text="x")
    assert "--allow-write" in write.write_result.rejected.reason
    delete = await run(ex, "delete_args", path="README.md")
    assert "--allow-write" in delete.delete_result.rejected.reason
    assert not (ws / "new.txt").exists() and (ws / "README.md").exists()


async def test_write_creates_files_and_parents(ws: Path) -> None:
    ex = executor(ws, allow_write=True)
    message = await run(
        ex,
        "write_args",
        path="out/deep/new.txt",
        file_text="a\nb",
        return_file_content_after_write=True,
    )
    success = message.write_result.success
    assert (success.lines_created, success.file_size, success.file_content_after_write) == (
        2,
        3,
        "a\nb",
    )
    assert (ws / "out" / "deep" / "new.txt").read_text() == "a\nb"
    raw = base64.b64encode(b"\x89PNG\0").decode()
    await run(ex, "write_args", path="img.png", file_bytes=raw)
    assert (ws / "img.png").read_bytes() == b"\x89PNG\0"
    escape = await run(ex, "write_args", path="../outside/x.txt", file_text="x")
    assert escape.write_result.HasField("rejected")
    assert not (ws.parent / "outside" / "x.txt").exists()


async def test_delete_results(ws: Path) -> None:
    ex = executor(ws, allow_write=True)
    deleted = await run(ex, "delete_args", path="README.md")
    assert deleted.delete_result.success.prev_content == "# Demo\nTODO: write docs\n"
    assert not (ws / "README.md").exists()
    assert (await run(ex, "delete_args", path="README.md")).delete_result.HasField("file_not_found")
    assert (
        await run(ex, "delete_args", path="src")
    ).delete_result.not_file.actual_type == "directory"


# -- ls -----------------------------------------------------------------------------------


async def test_ls_builds_a_tree_without_descending_into_vendored_dirs(ws: Path) -> None:
    message = await run(executor(ws), "ls_args", path="", ignore=["*.bin"])
    root = message.ls_result.success.directory_tree_root
    assert root.abs_path == str(ws)
    assert [f.name for f in root.children_files] == ["README.md"]
    names = [Path(d.abs_path).name for d in root.children_dirs]
    assert names == [".git", "node_modules", "src"]
    git, modules, src = root.children_dirs
    assert not git.children_were_processed and not modules.children_were_processed
    assert src.children_were_processed
    assert [f.name for f in src.children_files] == ["main.py"]
    assert src.children_dirs[0].children_files[0].name == "util.py"
    assert dict(root.full_subtree_extension_counts) == {".md": 1, ".py": 2}
    missing = await run(executor(ws), "ls_args", path="nope")
    assert missing.ls_result.error.error == "No such directory."


# -- grep ---------------------------------------------------------------------------------


async def test_grep_content_files_and_count(ws: Path) -> None:
    ex = executor(ws)
    key = str(ws)
    content = await run(ex, "grep_args", pattern="TODO", path="")
    union = content.grep_result.success.workspace_results[key].content
    found = [(m.file, [(x.line_number, x.content) for x in m.matches]) for m in union.matches]
    assert found == [
        ("README.md", [(2, "TODO: write docs")]),
        ("src/main.py", [(4, "    return TODO")]),
    ]
    files = await run(
        ex, "grep_args", pattern="todo", case_insensitive=True, output_mode="files_with_matches"
    )
    assert list(files.grep_result.success.workspace_results[key].files.files) == [
        "README.md",
        "src/main.py",
        "src/pkg/util.py",
    ]
    counted = await run(
        ex, "grep_args", pattern="todo", case_insensitive=True, output_mode="count", path="src"
    )
    counts = counted.grep_result.success.workspace_results[key].count
    assert [(c.file, c.count) for c in counts.counts] == [
        ("src/main.py", 1),
        ("src/pkg/util.py", 2),
    ]
    assert counts.total_matches == 3


async def test_grep_globs_context_types_and_errors(ws: Path) -> None:
    ex = executor(ws)
    key = str(ws)
    scoped = await run(ex, "grep_args", pattern="def", glob="src/pkg/*.py")
    assert [m.file for m in scoped.grep_result.success.workspace_results[key].content.matches] == [
        "src/pkg/util.py"
    ]
    typed = await run(ex, "grep_args", pattern="TODO", type="md")
    assert [m.file for m in typed.grep_result.success.workspace_results[key].content.matches] == [
        "README.md"
    ]
    context = await run(ex, "grep_args", pattern="return", path="src/main.py", context_before=1)
    lines = context.grep_result.success.workspace_results[key].content.matches[0].matches
    assert [(x.line_number, x.is_context_line) for x in lines] == [(3, True), (4, False)]
    glob_only = await run(ex, "grep_args", pattern="", glob="**/*.py")
    assert list(glob_only.grep_result.success.workspace_results[key].files.files) == [
        "src/main.py",
        "src/pkg/util.py",
    ]
    braces = await run(ex, "grep_args", pattern="", glob="*.{md,bin}")
    assert list(braces.grep_result.success.workspace_results[key].files.files) == [
        "README.md",
        "blob.bin",
    ]
    bad = await run(ex, "grep_args", pattern="(unclosed")
    assert "Invalid regular expression" in bad.grep_result.error.error


async def test_grep_results_are_capped(ws: Path) -> None:
    for index in range(30):
        (ws / f"f{index:02}.txt").write_text("needle\n")
    message = await run(executor(ws, max_results=10), "grep_args", pattern="needle")
    content = message.grep_result.success.workspace_results[str(ws)].content
    assert content.total_matched_lines == 10 and content.client_truncated
    limited = await run(
        executor(ws), "grep_args", pattern="needle", head_limit=3, output_mode="files_with_matches"
    )
    files = limited.grep_result.success.workspace_results[str(ws)].files
    assert list(files.files) == ["f00.txt", "f01.txt", "f02.txt"] and files.client_truncated


# -- shell --------------------------------------------------------------------------------


async def test_shell_needs_the_flag(ws: Path) -> None:
    for kind in ("shell_stream_args", "shell_args"):
        (message,) = wire(await executor(ws).execute(event(kind, command="touch pwned")))
        text = str(message)
        assert "--allow-shell" in text and "rejected" in text
    assert not (ws / "pwned").exists()


async def test_shell_stream_runs_in_the_workspace(ws: Path) -> None:
    ex = executor(ws, allow_shell=True)
    messages = wire(
        await ex.execute(event("shell_stream_args", command="pwd; echo err >&2; exit 3"))
    )
    kinds = [m.shell_stream.WhichOneof("event") for m in messages]
    assert kinds == ["start", "stdout", "stderr", "exit"]
    assert messages[1].shell_stream.stdout.data.strip() == str(ws)
    assert messages[2].shell_stream.stderr.data == "err\n"
    assert messages[3].shell_stream.exit.code == 3 and not messages[3].shell_stream.exit.aborted
    sub = only(await ex.execute(event("shell_args", command="pwd", working_directory="src")))
    assert sub.shell_result.success.stdout.strip() == str((ws / "src").resolve())
    escape = only(await ex.execute(event("shell_args", command="pwd", working_directory="..")))
    assert escape.shell_result.HasField("rejected")


async def test_timeout_kills_the_whole_process_group(ws: Path) -> None:
    # The time limit runs from the reaper's start, so on a loaded machine the shell may not
    # reach its child before 0.5 s: then nothing was there to kill, and the limit is doubled
    # until the child did start. Every attempt must still end as a timeout.
    sleeper = f"sleep {unique_seconds(30, '0101')}"
    command = f"{sleeper} & echo started > child.txt; wait"
    for limit in (0.5, 1.0, 2.0, 4.0, 8.0):
        ex = executor(ws, allow_shell=True, timeout=limit)
        request = event("shell_stream_args", command=command, timeout=60000)
        exit_event = wire(await ex.execute(request))[-1].shell_stream.exit
        assert exit_event.aborted and exit_event.abort_reason == 2
        if (ws / "child.txt").exists():
            break
    assert (ws / "child.txt").read_text() == "started\n"
    # Killed processes leave /proc a moment later (a sandbox's PID namespace is torn down
    # after its init): the sleep must be gone long before its 30 s are up.
    await wait_until(lambda: not running(sleeper), timeout=10)
    sync = only(
        await executor(ws, allow_shell=True, timeout=0.5).execute(
            event("shell_args", command="sleep 30")
        )
    )
    assert sync.shell_result.timeout.timeout_ms == 500


async def test_cancelling_kills_the_command(ws: Path) -> None:
    ex = executor(ws, allow_shell=True, timeout=60)
    sleeper, marker = f"sleep {unique_seconds(600, '0202')}", f"marker-0202-{os.getpid()}"
    command = f"{sleeper} & echo started > child.txt; wait; echo {marker}"
    task = asyncio.create_task(ex.execute(event("shell_args", command=command)))
    child_file = ws / "child.txt"
    for _ in range(500):  # wait (bounded) for the shell to have started its child
        if child_file.exists() and child_file.read_text().strip():
            break
        await asyncio.sleep(0.01)
    assert running(sleeper) and running(marker)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # without the kill this would wait out the sleep (and hit the test timeout)
    await wait_until(lambda: not running(sleeper) and not running(marker))


async def test_commands_do_not_see_the_bridges_secrets(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURSOR_ACCESS_TOKEN", "sk-very-secret")
    monkeypatch.setenv("LC_ALL", "C")
    message = only(await executor(ws, allow_shell=True).execute(event("shell_args", command="env")))
    output = message.shell_result.success.stdout
    assert "sk-very-secret" not in output
    assert "LC_ALL=C" in output and "PATH=" in output


async def test_output_is_capped(ws: Path) -> None:
    ex = executor(ws, allow_shell=True, output_cap=1000)
    message = only(
        await ex.execute(event("shell_args", command="head -c 100000 /dev/zero | tr '\\0' x"))
    )
    stdout = message.shell_result.success.stdout
    assert stdout.startswith("x" * 1000)
    assert stdout.endswith("[output truncated: 99000 more bytes]")


# -- everything else ----------------------------------------------------------------------


async def test_other_kinds_are_refused_with_a_reason(ws: Path) -> None:
    ex = executor(ws, allow_shell=True, allow_write=True)
    fetch = await run(ex, "fetch_args", url="https://example.com")
    assert "local files only" in fetch.fetch_result.error.error
    lint = await run(ex, "diagnostics_args", path="src/main.py")
    assert "linter" in lint.diagnostics_result.rejected.reason
    background = await run(ex, "background_shell_spawn_args", command="sleep 9")
    assert "foreground" in background.background_shell_spawn_result.rejected.reason
    for kind in (
        "record_screen_args",
        "computer_use_args",
        "write_shell_stdin_args",
        "subagent_args",
    ):
        (message,) = wire(await ex.execute(event(kind)))
        assert "not available" in str(message)
    # The RunMachine answers MCP-state probes itself; should one reach the executor, it is refused.
    state = await run(ex, "mcp_state_exec_args")
    assert state.mcp_state_exec_result.HasField("rejected")
    assert (await run(ex, "list_mcp_resources_exec_args")).list_mcp_resources_exec_result.HasField(
        "success"
    )
    assert await ex.execute(event("unknown")) == []


async def test_pi_family(ws: Path) -> None:
    ex = executor(ws, allow_shell=True, allow_write=True)
    read = await run(ex, "pi_read_args", path="README.md", offset=2, limit=1)
    assert read.pi_read_result.success.output == "TODO: write docs\n"
    listing = await run(ex, "pi_ls_args", path="src")
    assert listing.pi_ls_result.success.output == "main.py\npkg/"
    found = await run(ex, "pi_find_args", pattern="*.py", path="")
    assert found.pi_find_result.success.output == "src/main.py\nsrc/pkg/util.py"
    grep = await run(ex, "pi_grep_args", pattern="todo", path="src", ignore_case=True)
    assert grep.pi_grep_result.success.output.splitlines()[0] == "src/main.py:4:    return TODO"
    await run(ex, "pi_write_args", path="new.txt", content="one two")
    edited = await run(
        ex, "pi_edit_args", path="new.txt", edits=[{"old_text": "two", "new_text": "2"}]
    )
    assert edited.pi_edit_result.HasField("success") and (ws / "new.txt").read_text() == "one 2"
    ambiguous = await run(
        ex, "pi_edit_args", path="README.md", edits=[{"old_text": "o", "new_text": "0"}]
    )
    assert "exactly once" in ambiguous.pi_edit_result.error.error
    bash = await run(ex, "pi_bash_args", command="echo hi")
    assert bash.pi_bash_result.success.output == "hi\n"
    failing = await run(ex, "pi_bash_args", command="exit 5")
    assert failing.pi_bash_result.error.error.startswith("Exit code 5")
