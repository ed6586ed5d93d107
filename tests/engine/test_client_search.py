"""grep (and glob-only searches) on each client's own tools and back."""

from __future__ import annotations

from client_tools import (
    CLAUDE_SEARCH,
    CODEX,
    OPENCODE,
    event,
    only,
)

from cursor_bridge.engine.adapters import (
    ClientCall,
    map_builtin,
    native_result,
)


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
