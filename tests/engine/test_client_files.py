"""read, write, delete and ls on each client's own tools (map_builtin) and back (native_result);
the client vocabulary they rely on."""

from __future__ import annotations

import pytest
from client_tools import (
    CLAUDE,
    CLAUDE_SEARCH,
    CODEX,
    GENERIC,
    OPENCODE,
    event,
    only,
)

from cursor_bridge.engine.adapters import (
    ClientCall,
    Toolbox,
    map_builtin,
    native_result,
)
from cursor_bridge.engine.request import ToolSpec


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
