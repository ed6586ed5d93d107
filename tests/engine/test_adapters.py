"""Built-in exec kinds on each client's own tools (map_builtin) and back (native_result)."""

from __future__ import annotations

import pytest
from client_tools import (
    CLAUDE,
    CLAUDE_SEARCH,
    CODEX,
    CODEX_LEGACY_SHELL,
    GENERIC,
    OPENCODE,
    event,
    only,
    wire,
)

from cursor_bridge.engine.adapters import (
    ClientCall,
    Toolbox,
    map_builtin,
    native_result,
    refuse,
)
from cursor_bridge.engine.exec_registry import REGISTRY
from cursor_bridge.engine.request import ToolSpec
from cursor_bridge.protocol.exec_kinds import exec_kinds, result_field
from cursor_bridge.protocol.messages import agent


def test_vocabulary_is_read_from_names_and_schemas() -> None:
    assert Toolbox(OPENCODE).vocabulary == "opencode"
    assert Toolbox(CLAUDE).vocabulary == "claude"
    assert Toolbox(CODEX).vocabulary == "codex"
    assert Toolbox(GENERIC).vocabulary == "generic"
    # A bare `read` with no schema is OpenCode's; its default argument name is filePath.
    bare = [ToolSpec("read"), ToolSpec("bash")]
    assert Toolbox(bare).vocabulary == "opencode"
    call = map_builtin(event("read_args", path="/w/a.txt"), bare)
    assert call == ClientCall("read", {"filePath": "/w/a.txt"}, "read")


# -- read ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        (OPENCODE, ClientCall("read", {"filePath": "/w/a.py", "offset": 5, "limit": 10}, "read")),
        (CLAUDE, ClientCall("Read", {"file_path": "/w/a.py", "offset": 5, "limit": 10}, "read")),
        (GENERIC, ClientCall("read_file", {"path": "/w/a.py"}, "read")),
        (
            CODEX,
            ClientCall(
                "exec_command", {"cmd": "sed -n '5,14p' /w/a.py", "yield_time_ms": 30000}, "shell"
            ),
        ),
    ],
)
def test_read_maps_path_offset_and_limit(tools: list[ToolSpec], expected: ClientCall) -> None:
    assert map_builtin(event("read_args", path="/w/a.py", offset=5, limit=10), tools) == expected


def test_read_offset_follows_a_zero_based_client() -> None:
    tools = [
        ToolSpec(
            "read",
            "",
            {
                "properties": {
                    "filePath": {"type": "string"},
                    "offset": {
                        "type": "number",
                        "description": "The line number to start reading from (0-based)",
                    },
                }
            },
        )
    ]
    call = map_builtin(event("read_args", path="/a", offset=5), tools)
    assert call is not None and call.arguments == {"filePath": "/a", "offset": 4}
    # No offset or limit: a plain read, and a plain `cat` for a shell-only client.
    assert map_builtin(event("read_args", path="/a"), tools) == ClientCall(
        "read", {"filePath": "/a"}, "read"
    )
    codex = map_builtin(event("read_args", path="/a b"), CODEX)
    assert codex is not None and codex.arguments["cmd"] == "cat -- '/a b'"


@pytest.mark.parametrize(
    ("tools", "output"),
    [
        (
            OPENCODE,
            "<path>/w/a.py</path>\n<type>file</type>\n<content>\n1: def f():\n2:     return 1\n3: \n\n(End of file - total 3 lines)\n</content>",
        ),
        (
            OPENCODE,
            "<file>\n00001| def f():\n00002|     return 1\n00003| \n\n(End of file - total 3 lines)\n</file>",
        ),
        (
            CLAUDE,
            "     1\u2192def f():\n     2\u2192    return 1\n     3\u2192\n\n<system-reminder>\nWhenever you read a file, consider malware.\n</system-reminder>\n",
        ),
        (
            CODEX,
            "Chunk ID: 5f2a\nWall time: 0.0021 seconds\nProcess exited with code 0\nOriginal token count: 9\nOutput:\ndef f():\n    return 1\n",
        ),
        (GENERIC, "def f():\n    return 1\n"),
    ],
)
def test_read_result_is_the_bare_file_text(tools: list[ToolSpec], output: str) -> None:
    request = event("read_args", path="/w/a.py")
    call = map_builtin(request, tools)
    assert call is not None
    message = only(native_result(request, call, output, False))
    assert (message.id, message.exec_id) == (7, "exec-key")
    success = message.read_result.success
    assert success.path == "/w/a.py"
    assert success.content.rstrip("\n") == "def f():\n    return 1"
    assert success.total_lines in (2, 3)
    assert not success.truncated


def test_read_result_keeps_numbers_that_are_file_content() -> None:
    request = event("read_args", path="/w/list.txt")
    call = ClientCall("read_file", {"path": "/w/list.txt"})
    # "1: a" / "3: c" are not consecutive line numbers: this is the file's own text.
    text = "1: a\n3: c"
    assert only(native_result(request, call, text, False)).read_result.success.content == text


def test_read_partial_and_missing_files() -> None:
    request = event("read_args", path="/w/big.py", offset=5, limit=2)
    call = map_builtin(request, OPENCODE)
    assert call is not None
    output = "<path>/w/big.py</path>\n<type>file</type>\n<content>\n5: e\n6: f\n\n(Showing lines 5-6 of 120. Use offset=7 to continue.)\n</content>"
    success = only(native_result(request, call, output, False)).read_result.success
    assert (success.content, success.total_lines, success.truncated) == ("e\nf", 120, True)

    missing = only(native_result(request, call, "File not found: /w/big.py", True))
    assert missing.read_result.WhichOneof("result") == "file_not_found"
    assert missing.read_result.file_not_found.path == "/w/big.py"
    denied = only(native_result(request, call, "permission denied by user", True))
    assert denied.read_result.error.error == "permission denied by user"
    codex_call = map_builtin(request, CODEX)
    assert codex_call is not None
    codex_missing = "Chunk ID: 1\nWall time: 0 seconds\nProcess exited with code 1\nOutput:\nsed: can't read /w/big.py: No such file or directory\n"
    assert only(native_result(request, codex_call, codex_missing, False)).read_result.HasField(
        "file_not_found"
    )


def test_read_of_a_directory_is_an_invalid_file() -> None:
    request = event("read_args", path="/w/src")
    call = map_builtin(request, OPENCODE)
    assert call is not None
    output = "<path>/w/src</path>\n<type>directory</type>\n<entries>\na.py\nlib/\n\n(2 entries)\n</entries>"
    result = only(native_result(request, call, output, False)).read_result
    assert result.WhichOneof("result") == "invalid_file"


# -- write / delete -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        (OPENCODE, ClientCall("write", {"filePath": "/w/n.txt", "content": "a\nb\n"}, "write")),
        (CLAUDE, ClientCall("Write", {"file_path": "/w/n.txt", "content": "a\nb\n"}, "write")),
        (GENERIC, ClientCall("write_file", {"path": "/w/n.txt", "content": "a\nb\n"}, "write")),
    ],
)
def test_write_maps_to_the_write_tool(tools: list[ToolSpec], expected: ClientCall) -> None:
    request = event(
        "write_args", path="/w/n.txt", file_text="a\nb\n", return_file_content_after_write=True
    )
    call = map_builtin(request, tools)
    assert call == expected
    success = only(
        native_result(request, call, "Wrote file successfully.", False)
    ).write_result.success
    assert (success.path, success.lines_created, success.file_size) == ("/w/n.txt", 2, 4)
    assert success.file_content_after_write == "a\nb\n"
    failed = only(native_result(request, call, "EACCES: permission denied", True)).write_result
    assert failed.error.error == "EACCES: permission denied"


def test_write_uses_file_bytes_and_refuses_binary() -> None:
    import base64

    text = event(
        "write_args", path="/w/u.txt", file_bytes=base64.b64encode("h\u00e9".encode()).decode()
    )
    call = map_builtin(text, OPENCODE)
    assert call is not None and call.arguments["content"] == "h\u00e9"
    binary = event(
        "write_args", path="/w/x.bin", file_bytes=base64.b64encode(b"\xff\xfe\x00").decode()
    )
    assert map_builtin(binary, OPENCODE) is None


def test_delete_goes_through_the_shell() -> None:
    request = event("delete_args", path="/w/it's.txt")
    call = map_builtin(request, OPENCODE)
    assert call is not None and call.name == "bash"
    assert call.arguments["command"] == "rm -f -- '/w/it'\"'\"'s.txt'"
    assert call.arguments["description"].startswith("Delete")
    assert only(native_result(request, call, "", False)).delete_result.success.path == "/w/it's.txt"
    assert map_builtin(request, GENERIC[1:]) is None  # no shell tool: refuse


# -- ls -----------------------------------------------------------------------------------


def test_ls_uses_list_tool_then_read_then_shell_then_glob() -> None:
    request = event("ls_args", path="/w", ignore=["*.pyc"])
    assert map_builtin(request, CLAUDE_SEARCH) == ClientCall(
        "LS", {"path": "/w", "ignore": ["*.pyc"]}, "list"
    )
    assert map_builtin(request, OPENCODE) == ClientCall("read", {"filePath": "/w"}, "list")
    claude = map_builtin(request, CLAUDE)
    assert (
        claude is not None
        and claude.name == "Bash"
        and claude.arguments["command"] == "ls -1Ap -- /w"
    )
    glob_only = [t for t in OPENCODE if t.name == "glob"]
    assert map_builtin(request, glob_only) == ClientCall(
        "glob", {"pattern": "*", "path": "/w"}, "glob"
    )


@pytest.mark.parametrize(
    ("tools", "output"),
    [
        (
            OPENCODE,
            "<path>/w</path>\n<type>directory</type>\n<entries>\nREADME.md\nsrc/\n\n(2 entries)\n</entries>",
        ),
        (CLAUDE, "README.md\nsrc/\n"),
        (
            CLAUDE_SEARCH,
            "- /w/\n  - README.md\n  - src/\n    - main.py\n    - util.py\n\nNOTE: do any of the files above seem malicious?",
        ),
        (GENERIC, "/w/\n  README.md\n  src/\n    main.py\n    util.py\n"),
    ],
)
def test_ls_result_is_a_directory_tree(tools: list[ToolSpec], output: str) -> None:
    request = event("ls_args", path="/w")
    call = map_builtin(request, tools)
    assert call is not None
    root = only(native_result(request, call, output, False)).ls_result.success.directory_tree_root
    assert root.abs_path == "/w"
    assert [f.name for f in root.children_files] == ["README.md"]
    assert [d.abs_path for d in root.children_dirs] == ["/w/src"]
    src = root.children_dirs[0]
    if src.children_files:
        assert [f.name for f in src.children_files] == ["main.py", "util.py"]
        assert src.children_were_processed and root.num_files == 3
        assert dict(root.full_subtree_extension_counts) == {".md": 1, ".py": 2}
    else:
        assert not src.children_were_processed and root.num_files == 1


def test_ls_error_is_reported() -> None:
    request = event("ls_args", path="/nope")
    call = map_builtin(request, CODEX)
    assert call is not None
    output = "Process exited with code 2\nOutput:\nls: cannot access '/nope': No such file or directory\n"
    assert "No such file" in only(native_result(request, call, output, False)).ls_result.error.error


# -- grep ---------------------------------------------------------------------------------


def test_grep_maps_arguments_per_vocabulary() -> None:
    request = event(
        "grep_args", pattern="TODO", path="/w", glob="*.py", case_insensitive=True, head_limit=20
    )
    assert map_builtin(request, OPENCODE) == ClientCall(
        "grep", {"pattern": "TODO", "path": "/w", "include": "*.py"}, "grep"
    )
    claude = map_builtin(request, CLAUDE_SEARCH)
    assert claude == ClientCall(
        "Grep",
        {
            "pattern": "TODO",
            "path": "/w",
            "glob": "*.py",
            "output_mode": "content",
            "-i": True,
            "-n": True,
            "head_limit": 20,
        },
        "grep",
    )
    codex = map_builtin(request, CODEX)
    assert codex is not None and codex.role == "grep"
    assert codex.arguments["cmd"] == (
        "grep -rnEi --exclude-dir=.git --exclude-dir=node_modules --include='*.py' -- TODO /w"
    )


def test_grep_with_only_a_glob_is_a_glob_search() -> None:
    request = event("grep_args", pattern="", path="/w", glob="**/*.ts")
    assert map_builtin(request, OPENCODE) == ClientCall(
        "glob", {"pattern": "**/*.ts", "path": "/w"}, "glob"
    )
    assert map_builtin(request, CLAUDE_SEARCH) == ClientCall(
        "Glob", {"pattern": "**/*.ts", "path": "/w"}, "glob"
    )
    call = map_builtin(request, OPENCODE)
    assert call is not None
    message = only(native_result(request, call, "/w/a.ts\n/w/lib/b.ts\n", False, workspace="/w"))
    union = message.grep_result.success.workspace_results["/w"]
    assert list(union.files.files) == ["a.ts", "lib/b.ts"] and union.files.total_files == 2
    assert message.grep_result.success.output_mode == "files_with_matches"


def test_grep_content_results_from_each_client_format() -> None:
    request = event("grep_args", pattern="foo", path="/w")
    opencode = map_builtin(request, OPENCODE)
    assert opencode is not None
    text = "Found 3 matches\n/w/a.py:\n  Line 3: foo = 1\n  Line 9: foo()\n\n/w/b.py:\n  Line 1: import foo"
    content = only(native_result(request, opencode, text, False, workspace="/w"))
    union = content.grep_result.success.workspace_results["/w"].content
    assert [(m.file, [(x.line_number, x.content) for x in m.matches]) for m in union.matches] == [
        ("a.py", [(3, "foo = 1"), (9, "foo()")]),
        ("b.py", [(1, "import foo")]),
    ]
    assert union.total_matched_lines == 3

    claude = map_builtin(request, CLAUDE_SEARCH)
    assert claude is not None
    hits = "/w/a.py:3:foo = 1\n/w/b.py:1:import foo: yes"
    union = only(native_result(request, claude, hits, False, workspace="/w")).grep_result.success
    files = union.workspace_results["/w"].content.matches
    assert [(m.file, m.matches[0].content) for m in files] == [
        ("a.py", "foo = 1"),
        ("b.py", "import foo: yes"),
    ]
    # Claude Code's default (files) output still becomes a files answer.
    listed = only(
        native_result(request, claude, "Found 2 files\n/w/a.py\n/w/b.py", False, workspace="/w")
    )
    assert list(listed.grep_result.success.workspace_results["/w"].files.files) == ["a.py", "b.py"]


def test_grep_no_match_count_mode_and_errors() -> None:
    request = event("grep_args", pattern="zzz", path="/w")
    codex = map_builtin(request, CODEX)
    assert codex is not None
    nothing = "Chunk ID: 1\nWall time: 0 seconds\nProcess exited with code 1\nOutput:\n"
    union = only(native_result(request, codex, nothing, False, workspace="/w")).grep_result.success
    assert union.workspace_results["/w"].content.total_lines == 0
    broken = "Process exited with code 2\nOutput:\ngrep: Unmatched ( or \\(\n"
    assert "Unmatched" in only(native_result(request, codex, broken, False)).grep_result.error.error

    counting = event("grep_args", pattern="x", path="/w", output_mode="count")
    call = map_builtin(counting, CODEX)
    assert call is not None and call.arguments["cmd"].endswith("| grep -v ':0$'")
    counts = only(
        native_result(
            counting,
            call,
            "Process exited with code 0\nOutput:\n/w/a:2\n/w/b:5\n",
            False,
            workspace="/w",
        )
    )
    result = counts.grep_result.success.workspace_results["/w"].count
    assert [(c.file, c.count) for c in result.counts] == [("a", 2), ("b", 5)]
    assert result.total_matches == 7


# -- shell --------------------------------------------------------------------------------


def test_shell_maps_command_workdir_and_timeout() -> None:
    request = event(
        "shell_stream_args", command="make test", working_directory="/w/sub", timeout=120000
    )
    assert map_builtin(request, OPENCODE) == ClientCall(
        "bash",
        {
            "command": "make test",
            "workdir": "/w/sub",
            "timeout": 120000,
            "description": "Run make test",
        },
        "shell",
    )
    # Claude's Bash has no working directory: cd first.
    assert map_builtin(request, CLAUDE) == ClientCall(
        "Bash",
        {
            "command": "cd /w/sub && make test",
            "timeout": 120000,
            "description": "Run cd /w/sub && make test",
        },
        "shell",
    )
    assert map_builtin(request, CODEX) == ClientCall(
        "exec_command", {"cmd": "make test", "workdir": "/w/sub", "yield_time_ms": 120000}, "shell"
    )
    assert map_builtin(request, CODEX_LEGACY_SHELL) == ClientCall(
        "shell",
        {"command": ["bash", "-lc", "make test"], "workdir": "/w/sub", "timeout_ms": 120000},
        "shell",
    )
    generic = map_builtin(request, GENERIC)
    assert generic is not None and generic.arguments == {
        "command": "make test",
        "cwd": "/w/sub",
        "timeout": 120,
    }
    # Default timeout 30 s; Claude's schema caps it.
    long = event("shell_args", command="sleep 1", timeout=900000)
    claude = map_builtin(long, CLAUDE)
    assert claude is not None and claude.arguments["timeout"] == 600000
    short = map_builtin(event("shell_args", command="ls"), OPENCODE)
    assert short is not None and short.arguments["timeout"] == 30000


def test_shell_stream_result_sequence_and_exit_codes() -> None:
    request = event("shell_stream_args", command="pytest", working_directory="/w")
    call = map_builtin(request, CLAUDE)
    assert call is not None
    stream = wire(native_result(request, call, "Exit code 2\n1 failed, 3 passed", True))
    events = [m.shell_stream.WhichOneof("event") for m in stream]
    assert events == ["start", "stdout", "exit"]
    assert all((m.id, m.exec_id) == (7, "exec-key") for m in stream)
    assert stream[1].shell_stream.stdout.data == "1 failed, 3 passed"
    assert (stream[2].shell_stream.exit.code, stream[2].shell_stream.exit.cwd) == (2, "/w")

    opencode = map_builtin(request, OPENCODE)
    assert opencode is not None
    ok = wire(
        native_result(
            request, opencode, "3 passed\n\n<bash_metadata>\nexit 0\n</bash_metadata>", False
        )
    )
    assert ok[1].shell_stream.stdout.data == "3 passed" and ok[-1].shell_stream.exit.code == 0
    timed = "partial\n\n<bash_metadata>\nbash tool terminated command after exceeding timeout 30000 ms\n</bash_metadata>"
    killed = wire(native_result(request, opencode, timed, True))
    assert killed[-1].shell_stream.exit.aborted and killed[-1].shell_stream.exit.code == 1

    codex = map_builtin(request, CODEX)
    assert codex is not None
    out = wire(
        native_result(
            request,
            codex,
            "Chunk ID: a\nWall time: 1.2 seconds\nProcess exited with code 3\nOriginal token count: 1\nOutput:\nboom\n",
            False,
        )
    )
    assert out[-1].shell_stream.exit.code == 3 and out[1].shell_stream.stdout.data == "boom\n"


def test_shell_sync_result_is_success_or_failure() -> None:
    request = event("shell_args", command="false", working_directory="/w")
    call = map_builtin(request, CODEX)
    assert call is not None
    failed = only(native_result(request, call, "Process exited with code 1\nOutput:\n", False))
    assert (
        failed.shell_result.failure.exit_code == 1
        and failed.shell_result.failure.command == "false"
    )
    passed = only(
        native_result(request, call, '{"output": "hi\\n", "metadata": {"exit_code": 0}}', False)
    )
    assert passed.shell_result.success.stdout == "hi\n"


def test_background_spawn_detaches_and_reports_the_pid() -> None:
    request = event("background_shell_spawn_args", command="npm run dev", working_directory="/w")
    call = map_builtin(request, OPENCODE)
    assert call is not None
    assert call.arguments["command"].startswith(
        "nohup sh -c 'npm run dev' > /tmp/cursor-bridge-bg-7.log"
    )
    assert call.arguments["command"].endswith("& echo $!")
    success = only(
        native_result(request, call, "4242\n", False)
    ).background_shell_spawn_result.success
    assert (success.pid, success.shell_id, success.command) == (4242, 4242, "npm run dev")
    interactive = event(
        "background_shell_spawn_args", command="python", enable_write_shell_stdin_tool=True
    )
    assert map_builtin(interactive, OPENCODE) is None


# -- fetch, subagent, pi ------------------------------------------------------------------


def test_fetch_maps_to_each_fetch_tool() -> None:
    request = event("fetch_args", url="https://example.com/x")
    assert map_builtin(request, OPENCODE) == ClientCall(
        "webfetch", {"url": "https://example.com/x", "format": "markdown"}, "fetch"
    )
    claude = map_builtin(request, CLAUDE_SEARCH)
    assert claude is not None and claude.name == "WebFetch" and claude.arguments["prompt"]
    codex = map_builtin(request, CODEX)
    assert (
        codex is not None
        and codex.arguments["cmd"] == "curl -fsSL --max-time 30 https://example.com/x"
    )
    assert map_builtin(event("fetch_args", url="file:///etc/passwd"), CODEX) is None
    call = map_builtin(request, OPENCODE)
    assert call is not None
    success = only(native_result(request, call, "# Example", False)).fetch_result.success
    assert (success.url, success.content, success.status_code) == (
        "https://example.com/x",
        "# Example",
        200,
    )
    failed = only(native_result(request, call, "Request failed with status code: 404", True))
    assert failed.fetch_result.error.error.endswith("404")


def test_subagent_maps_to_the_task_tool() -> None:
    request = event(
        "subagent_args",
        prompt="Find every caller of parse_config in the repo",
        subagent_type="explore",
    )
    call = map_builtin(request, OPENCODE)
    assert call == ClientCall(
        "task",
        {
            "description": "Find every caller of parse_config in",
            "prompt": "Find every caller of parse_config in the repo",
            "subagent_type": "explore",
        },
        "task",
    )
    assert map_builtin(request, CLAUDE) is not None
    assert map_builtin(request, CODEX) is None
    result = only(native_result(request, call, "Found 3 callers.", False)).subagent_result.success
    assert result.final_message == "Found 3 callers."


def test_pi_family_maps_and_answers_one_field_higher() -> None:
    read = event("pi_read_args", path="/w/a.py", offset=2, limit=3)
    call = map_builtin(read, CLAUDE)
    assert call == ClientCall("Read", {"file_path": "/w/a.py", "offset": 2, "limit": 3}, "read")
    message = only(native_result(read, call, "     2\u2192b\n     3\u2192c", False))
    assert message.WhichOneof("message") == "pi_read_result"
    assert message.pi_read_result.success.output == "b\nc"
    number = agent.ExecClientMessage.DESCRIPTOR.fields_by_name["pi_read_result"].number
    assert number == agent.ExecServerMessage.DESCRIPTOR.fields_by_name["pi_read_args"].number + 1

    edit = event("pi_edit_args", path="/w/a.py", edits=[{"old_text": "a", "new_text": "b"}])
    assert map_builtin(edit, OPENCODE) == ClientCall(
        "edit", {"filePath": "/w/a.py", "oldString": "a", "newString": "b"}, "edit"
    )
    two = event("pi_edit_args", path="/w/a.py", edits=[{"old_text": "a", "new_text": "b"}] * 2)
    assert map_builtin(two, OPENCODE) is None
    bash = map_builtin(event("pi_bash_args", command="ls", timeout=2.5), OPENCODE)
    assert bash is not None and bash.arguments["timeout"] == 2500
    find = map_builtin(event("pi_find_args", pattern="*.md", path="/w"), OPENCODE)
    assert find == ClientCall("glob", {"pattern": "*.md", "path": "/w"}, "glob")
    failed = only(native_result(edit, ClientCall("edit", {}), "oldString not found", True))
    assert failed.pi_edit_result.error.error == "oldString not found"


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
