"""Cursor IDE tool calls: a function call → `ClientSideToolV2` + its params message (seed 000).

Part of the `cursor_chat` dialect (kept apart because the tool map is its own concept). Cursor's
chat client does not execute OpenAI-style `tool_calls`; it executes `StreamedBackToolCallV2`
messages whose `tool` enum says which built-in tool runs and whose `params` oneof carries the
arguments in that tool's own message. Seed 000 gives the function-name → enum map and the
argument conversions; `cursor_reference.json` gives the messages.

Where seed 000 pairs a V2 enum with a V1 params field (e.g. `Read` → READ_FILE_V2 with
`read_file_params`), we send the params field the reference assigns to that enum
(`read_file_v2_params`): the client picks the params by the enum. The one exception is
`StrReplace`: EDIT_FILE_V2's params cannot carry an old/new string pair, so it goes out as
EDIT_FILE with `edit_file_params`, which can. Every pairing is one row of `TOOLS`.
Anything not in the map falls back to MCP (`mcp_params`), as in seed 000.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from ..engine.output import ToolCall
from ..protocol.messages import aiserver

Tool = aiserver.ClientSideToolV2
Args = Mapping[str, Any]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True, slots=True)
class CursorTool:
    """How one function name becomes a Cursor tool call."""

    tool: aiserver.ClientSideToolV2
    params_field: str  # the StreamedBackToolCallV2 `params` oneof case
    convert: Callable[[Args], Message]


# -- argument helpers: clients name the same thing differently, and models send loose types --


def _first(args: Args, *keys: str) -> Any:
    for key in keys:
        value = args.get(key)
        if value is not None:
            return value
    return None


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _int(value: Any) -> int | None:
    """An int32 from an int, integral float or numeric string; None when there is none."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int):
        return None
    return max(_INT32_MIN, min(_INT32_MAX, value))


def _bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int | float):
        return bool(value)
    return default


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [_str(item) for item in value]
    return []


def _file_path(args: Args) -> str:
    return _str(_first(args, "relative_workspace_path", "target_file", "path", "file_path"))


# -- conversions, one per params message -----------------------------------------------------


def read_file(args: Args) -> aiserver.ReadFileParams:
    """Line range from Cursor's own names or `offset` (first line) + `limit` (line count).

    Seed 000 copies `limit` into the inclusive end line; a count is not a line number, so the
    end is computed from the start instead. The whole file is read when no range is given.
    """
    start = _int(_first(args, "start_line_one_indexed", "offset"))
    end = _int(args.get("end_line_one_indexed_inclusive"))
    limit = _int(args.get("limit"))
    if end is None and limit is not None and limit > 0:
        end = (start or 1) + limit - 1
    entire = args.get("should_read_entire_file", args.get("read_entire_file"))
    params = aiserver.ReadFileParams(
        relative_workspace_path=_file_path(args),
        read_entire_file=_bool(entire, default=start is None and end is None),
    )
    if start is not None:
        params.start_line_one_indexed = start
    if end is not None:
        params.end_line_one_indexed_inclusive = end
    return params


def read_file_v2(args: Args) -> aiserver.ReadFileV2Params:
    params = aiserver.ReadFileV2Params(target_file=_file_path(args))
    offset, limit = _int(args.get("offset")), _int(args.get("limit"))
    if offset is not None:
        params.offset = offset
    if limit is not None:
        params.limit = limit
    return params


def edit_file(args: Args) -> aiserver.EditFileParams:
    """Search/replace (`old_string` → `new_string`) or whole contents, per seed 000."""
    return aiserver.EditFileParams(
        relative_workspace_path=_file_path(args),
        old_string=_str(args.get("old_string")),
        new_string=_str(_first(args, "new_string", "contents", "code_edit", "content")),
        language=_str(args.get("language")),
        instructions=_str(args.get("instructions")),
        allow_multiple_matches=_bool(_first(args, "replace_all", "allow_multiple_matches")),
    )


def edit_file_v2(args: Args) -> aiserver.EditFileV2Params:
    """A whole-file write: the new contents are the file after the edit."""
    return aiserver.EditFileV2Params(
        relative_workspace_path=_file_path(args),
        contents_after_edit=_str(_first(args, "contents", "content", "new_string", "code_edit")),
    )


def list_dir(args: Args) -> aiserver.ListDirParams:
    return aiserver.ListDirParams(
        directory_path=_str(
            _first(args, "directory_path", "relative_workspace_path", "path", "target_directory")
        )
    )


def list_dir_v2(args: Args) -> aiserver.ListDirV2Params:
    return aiserver.ListDirV2Params(
        target_directory=_str(_first(args, "target_directory", "path", "directory_path")),
        ignore_globs=_strings(_first(args, "ignore_globs", "ignore")),
    )


def delete_file(args: Args) -> aiserver.DeleteFileParams:
    return aiserver.DeleteFileParams(relative_workspace_path=_file_path(args))


def run_terminal_command(args: Args) -> aiserver.RunTerminalCommandV2Params:
    """The client always asks the user before running (seed 000: require_user_approval)."""
    return aiserver.RunTerminalCommandV2Params(
        command=_str(_first(args, "command", "cmd")),
        cwd=_str(_first(args, "working_directory", "cwd")),
        is_background=_bool(_first(args, "is_background", "run_in_background")),
        require_user_approval=True,
    )


def _case_insensitive(args: Args) -> bool:
    if "case_sensitive" in args:
        return not _bool(args["case_sensitive"], default=True)
    return _bool(_first(args, "case_insensitive", "-i"))


def ripgrep_search(args: Args) -> aiserver.RipgrepSearchParams:
    options = aiserver.RipgrepSearchParams_ITextQueryBuilderOptionsProto()
    include = _first(args, "include_pattern", "glob")
    if include is not None:
        options.include_pattern.pattern = _str(include)
    return aiserver.RipgrepSearchParams(
        options=options,
        pattern_info=aiserver.RipgrepSearchParams_IPatternInfoProto(
            pattern=_str(_first(args, "pattern", "query")),
            is_reg_exp=True,
            is_case_sensitive=not _case_insensitive(args),
        ),
    )


def ripgrep_raw_search(args: Args) -> aiserver.RipgrepRawSearchParams:
    """Claude Code's Grep arguments (`-A`, `-B`, `-C`, `-i`, ...) map one to one."""
    params = aiserver.RipgrepRawSearchParams(
        pattern=_str(_first(args, "pattern", "query")),
        path=_str(args.get("path")),
        glob=_str(args.get("glob")),
        output_mode=_str(args.get("output_mode")),
        case_insensitive=_case_insensitive(args),
        type=_str(args.get("type")),
        multiline=_bool(args.get("multiline")),
    )
    for field, keys in (
        ("context_before", ("context_before", "-B")),
        ("context_after", ("context_after", "-A")),
        ("context", ("context", "-C")),
        ("head_limit", ("head_limit",)),
    ):
        value = _int(_first(args, *keys))
        if value is not None:
            setattr(params, field, value)
    return params


def glob_file_search(args: Args) -> aiserver.GlobFileSearchParams:
    return aiserver.GlobFileSearchParams(
        target_directory=_str(_first(args, "target_directory", "path")),
        glob_pattern=_str(_first(args, "glob_pattern", "pattern", "glob")),
    )


def web_search(args: Args) -> aiserver.WebSearchParams:
    return aiserver.WebSearchParams(search_term=_str(_first(args, "search_term", "query")))


# -- the map ---------------------------------------------------------------------------------

_READ = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_READ_FILE, "read_file_params", read_file)
_READ_V2 = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_READ_FILE_V2, "read_file_v2_params", read_file_v2)
_EDIT = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_EDIT_FILE, "edit_file_params", edit_file)
_EDIT_V2 = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_EDIT_FILE_V2, "edit_file_v2_params", edit_file_v2)
_LIST = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_LIST_DIR, "list_dir_params", list_dir)
_LIST_V2 = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_LIST_DIR_V2, "list_dir_v2_params", list_dir_v2)
_DELETE = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_DELETE_FILE, "delete_file_params", delete_file)
_SHELL = CursorTool(
    Tool.CLIENT_SIDE_TOOL_V2_RUN_TERMINAL_COMMAND_V2,
    "run_terminal_command_v2_params",
    run_terminal_command,
)
_GREP = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_RIPGREP_SEARCH, "ripgrep_search_params", ripgrep_search)
_GREP_RAW = CursorTool(
    Tool.CLIENT_SIDE_TOOL_V2_RIPGREP_RAW_SEARCH, "ripgrep_raw_search_params", ripgrep_raw_search
)
_GLOB = CursorTool(
    Tool.CLIENT_SIDE_TOOL_V2_GLOB_FILE_SEARCH, "glob_file_search_params", glob_file_search
)
_WEB = CursorTool(Tool.CLIENT_SIDE_TOOL_V2_WEB_SEARCH, "web_search_params", web_search)

# Function name (exact, as the client declared it) → Cursor tool. Seed 000's map.
TOOLS: dict[str, CursorTool] = {
    "read_file": _READ,
    "Read": _READ_V2,
    "edit_file": _EDIT,
    "StrReplace": _EDIT,  # seed 000: EDIT_FILE_V2; see the module docstring
    "Write": _EDIT_V2,
    "list_dir": _LIST,
    "LS": _LIST_V2,
    "run_terminal_command": _SHELL,
    "Shell": _SHELL,
    "delete_file": _DELETE,
    "Delete": _DELETE,
    "grep": _GREP,
    "Grep": _GREP_RAW,
    "glob": _GLOB,
    "Glob": _GLOB,
    "web_search": _WEB,
}

MCP_TOOL = Tool.CLIENT_SIDE_TOOL_V2_MCP


def _arguments(text: str) -> dict[str, Any]:
    """The call's arguments as an object; anything else (bad JSON, an array) counts as none."""
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def tool_for(name: str) -> aiserver.ClientSideToolV2:
    """The ClientSideToolV2 value a function name maps to (MCP when unknown)."""
    entry = TOOLS.get(name)
    return MCP_TOOL if entry is None else entry.tool


def tool_call_v2(call: ToolCall) -> aiserver.StreamedBackToolCallV2:
    """The full Cursor tool call for one function call, params converted."""
    message = aiserver.StreamedBackToolCallV2(
        tool=tool_for(call.name),
        tool_call_id=call.call_id,
        name=call.name,
        raw_args=call.arguments,
        tool_index=call.index,
    )
    entry = TOOLS.get(call.name)
    if entry is None:
        message.mcp_params.tools.add(name=call.name, parameters=_mcp_parameters(call))
    else:
        getattr(message, entry.params_field).CopyFrom(entry.convert(_arguments(call.arguments)))
    return message


def _mcp_parameters(call: ToolCall) -> str:
    """Seed 000 passes MCP arguments through as JSON text (compact when it parses)."""
    try:
        return json.dumps(json.loads(call.arguments or "{}"), separators=(",", ":"))
    except json.JSONDecodeError:
        return call.arguments


def partial_tool_call(call: ToolCall) -> aiserver.StreamedBackPartialToolCall:
    """The announcement Cursor expects before the full call."""
    return aiserver.StreamedBackPartialToolCall(
        tool=tool_for(call.name),
        tool_call_id=call.call_id,
        name=call.name,
        tool_index=call.index,
    )
