"""Seed 000's tool map: every function name becomes the right ClientSideToolV2 + params."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format

from cursor_bridge.dialects import cursor_tools
from cursor_bridge.dialects.cursor_chat import StreamWriter
from cursor_bridge.engine.output import ToolCall
from cursor_bridge.protocol.messages import aiserver

# The enum numbers exactly as seed 000 lists them (not read from our code).
READ_FILE, LIST_DIR, EDIT_FILE, DELETE_FILE = 5, 6, 7, 11
RIPGREP_SEARCH, RUN_TERMINAL_COMMAND_V2, WEB_SEARCH, MCP = 3, 15, 18, 19
EDIT_FILE_V2, LIST_DIR_V2, READ_FILE_V2, RIPGREP_RAW_SEARCH, GLOB_FILE_SEARCH = 38, 39, 40, 41, 42

# name, arguments, expected enum, expected params field, expected params (proto JSON)
CASES: list[tuple[str, dict[str, Any], int, str, dict[str, Any]]] = [
    (
        "read_file",
        {"path": "src/app.py"},
        READ_FILE,
        "read_file_params",
        {"relative_workspace_path": "src/app.py", "read_entire_file": True},
    ),
    (
        "Read",
        {"file_path": "/w/src/app.py", "offset": 3, "limit": 20},
        READ_FILE_V2,
        "read_file_v2_params",
        {"target_file": "/w/src/app.py", "offset": 3, "limit": 20},
    ),
    (
        "edit_file",
        {"path": "a.py", "old_string": "x = 1", "new_string": "x = 2", "language": "python"},
        EDIT_FILE,
        "edit_file_params",
        {
            "relative_workspace_path": "a.py",
            "old_string": "x = 1",
            "new_string": "x = 2",
            "language": "python",
        },
    ),
    (
        "StrReplace",
        {"file_path": "a.py", "old_string": "foo", "new_string": "bar", "replace_all": True},
        EDIT_FILE,
        "edit_file_params",
        {
            "relative_workspace_path": "a.py",
            "old_string": "foo",
            "new_string": "bar",
            "allow_multiple_matches": True,
        },
    ),
    (
        "Write",
        {"file_path": "new.py", "contents": "print('hi')\n"},
        EDIT_FILE_V2,
        "edit_file_v2_params",
        {"relative_workspace_path": "new.py", "contents_after_edit": "print('hi')\n"},
    ),
    ("list_dir", {"path": "src"}, LIST_DIR, "list_dir_params", {"directory_path": "src"}),
    (
        "LS",
        {"path": "src", "ignore": ["*.pyc", "__pycache__"]},
        LIST_DIR_V2,
        "list_dir_v2_params",
        {"target_directory": "src", "ignore_globs": ["*.pyc", "__pycache__"]},
    ),
    (
        "run_terminal_command",
        {"command": "npm install", "working_directory": "/workspace", "is_background": False},
        RUN_TERMINAL_COMMAND_V2,
        "run_terminal_command_v2_params",
        {"command": "npm install", "cwd": "/workspace", "require_user_approval": True},
    ),
    (
        "Shell",
        {"command": "npm run dev", "is_background": True},
        RUN_TERMINAL_COMMAND_V2,
        "run_terminal_command_v2_params",
        {"command": "npm run dev", "is_background": True, "require_user_approval": True},
    ),
    (
        "delete_file",
        {"path": "old.txt"},
        DELETE_FILE,
        "delete_file_params",
        {"relative_workspace_path": "old.txt"},
    ),
    (
        "Delete",
        {"file_path": "tmp/old.txt"},
        DELETE_FILE,
        "delete_file_params",
        {"relative_workspace_path": "tmp/old.txt"},
    ),
    (
        "grep",
        {"pattern": "TODO", "include_pattern": "*.py", "case_sensitive": True},
        RIPGREP_SEARCH,
        "ripgrep_search_params",
        {
            "options": {"include_pattern": {"pattern": "*.py"}},
            "pattern_info": {"pattern": "TODO", "is_reg_exp": True, "is_case_sensitive": True},
        },
    ),
    (
        "Grep",
        {
            "pattern": r"def \w+",
            "path": "src",
            "glob": "*.py",
            "output_mode": "content",
            "-B": 1,
            "-A": 2,
            "-C": 3,
            "-i": True,
            "type": "py",
            "head_limit": 50,
            "multiline": True,
        },
        RIPGREP_RAW_SEARCH,
        "ripgrep_raw_search_params",
        {
            "pattern": r"def \w+",
            "path": "src",
            "glob": "*.py",
            "output_mode": "content",
            "context_before": 1,
            "context_after": 2,
            "context": 3,
            "case_insensitive": True,
            "type": "py",
            "head_limit": 50,
            "multiline": True,
        },
    ),
    (
        "glob",
        {"pattern": "**/*.ts", "path": "web"},
        GLOB_FILE_SEARCH,
        "glob_file_search_params",
        {"target_directory": "web", "glob_pattern": "**/*.ts"},
    ),
    (
        "Glob",
        {"glob_pattern": "*.md", "target_directory": "docs"},
        GLOB_FILE_SEARCH,
        "glob_file_search_params",
        {"target_directory": "docs", "glob_pattern": "*.md"},
    ),
    (
        "web_search",
        {"search_term": "python 3.13 release"},
        WEB_SEARCH,
        "web_search_params",
        {"search_term": "python 3.13 release"},
    ),
    (
        "lookup_ticket",
        {"id": 42, "verbose": True},
        MCP,
        "mcp_params",
        {"tools": [{"name": "lookup_ticket", "parameters": '{"id":42,"verbose":true}'}]},
    ),
]


def _events(sse: str) -> list[dict[str, Any]]:
    out = []
    for block in sse.split("\n\n"):
        if block:
            assert block.startswith("data: ")
            out.append(json.loads(block.removeprefix("data: ")))
    return out


def test_every_name_of_seed_000s_map_is_covered() -> None:
    seed_names = {
        "read_file", "Read", "edit_file", "StrReplace", "Write", "list_dir", "LS",
        "run_terminal_command", "Shell", "delete_file", "Delete", "grep", "Grep", "glob",
        "Glob", "web_search",
    }  # fmt: skip
    assert set(cursor_tools.TOOLS) == seed_names
    assert {case[0] for case in CASES} >= seed_names


@pytest.mark.parametrize(
    ("name", "args", "tool", "field", "params"), CASES, ids=[case[0] for case in CASES]
)
def test_tool_call_renders_enum_and_params(
    name: str, args: dict[str, Any], tool: int, field: str, params: dict[str, Any]
) -> None:
    arguments = json.dumps(args)
    call = ToolCall(index=2, call_id="call_abc123", name=name, arguments=arguments)
    partial, full = _events(StreamWriter().tool_call(call))

    assert partial == {
        "partial_tool_call": {
            "tool": tool,
            "tool_call_id": "call_abc123",
            "name": name,
            "tool_index": 2,
        }
    }
    assert full == {
        "tool_call_v2": {
            "tool": tool,
            "tool_call_id": "call_abc123",
            "name": name,
            "raw_args": arguments,
            "tool_index": 2,
            field: params,
        }
    }
    # What we send is a valid StreamUnifiedChatResponse for a protobuf JSON parser.
    parsed = json_format.ParseDict(full, aiserver.StreamUnifiedChatResponse())
    assert parsed.tool_call_v2.WhichOneof("params") == field


def test_params_field_belongs_to_the_enum_it_is_sent_with() -> None:
    """The client reads the params of the tool the enum names: `READ_FILE_V2` ↔
    `read_file_v2_params`, and so on (Cursor's own naming of both)."""
    names = aiserver.ClientSideToolV2
    for entry in cursor_tools.TOOLS.values():
        enum_suffix = names.Name(entry.tool).removeprefix("CLIENT_SIDE_TOOL_V2_").lower()
        assert entry.params_field == f"{enum_suffix}_params", entry


def test_read_file_range_from_offset_and_limit() -> None:
    params = cursor_tools.read_file({"target_file": "a.py", "offset": 10, "limit": 5})
    assert params.start_line_one_indexed == 10
    assert params.end_line_one_indexed_inclusive == 14
    assert not params.read_entire_file
    native = cursor_tools.read_file(
        {"target_file": "a.py", "start_line_one_indexed": 2, "end_line_one_indexed_inclusive": 9}
    )
    assert (native.start_line_one_indexed, native.end_line_one_indexed_inclusive) == (2, 9)
    assert not native.read_entire_file
    whole = cursor_tools.read_file({"target_file": "a.py", "should_read_entire_file": True})
    assert whole.read_entire_file


def test_loose_argument_types_are_coerced_not_fatal() -> None:
    params = cursor_tools.ripgrep_raw_search({"pattern": "x", "-A": "3", "-B": 2.0, "-i": "true"})
    assert (params.context_after, params.context_before, params.case_insensitive) == (3, 2, True)
    huge = cursor_tools.read_file_v2({"path": "a", "limit": 10**12, "offset": "abc"})
    assert huge.limit == 2**31 - 1 and huge.offset == 0


@pytest.mark.parametrize("arguments", ["not json", "[1, 2]", ""])
def test_unparseable_arguments_still_give_a_call(arguments: str) -> None:
    call = ToolCall(0, "call_1", "read_file", arguments)
    message = cursor_tools.tool_call_v2(call)
    assert message.tool == READ_FILE
    assert message.raw_args == arguments
    assert message.read_file_params.read_entire_file


def test_mcp_fallback_keeps_unparseable_arguments_verbatim() -> None:
    message = cursor_tools.tool_call_v2(ToolCall(0, "c", "custom", "{broken"))
    assert message.tool == MCP
    assert message.mcp_params.tools[0].parameters == "{broken"
