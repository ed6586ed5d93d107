"""The client's tool vocabulary: which offered tool can do what, and its argument names.

Clients name the same capability differently (OpenCode `read{filePath}`, Claude Code
`Read{file_path}`, Codex `exec_command{cmd}`, generic `read_file{path}`). A `Toolbox` finds a
tool by capability (role) from the offered names, and each argument (slot) from the tool's
JSON schema; when a tool publishes no schema, the vocabulary guessed from the whole list
supplies the usual names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .request import ToolSpec

Role = Literal["shell", "read", "write", "list", "glob", "grep", "fetch", "edit", "task"]

ROLE_NAMES: dict[Role, tuple[str, ...]] = {
    "shell": (
        "bash",
        "shell",
        "exec_command",
        "run_command",
        "run_shell_command",
        "execute_command",
        "run_terminal_cmd",
        "shell_command",
        "terminal",
    ),
    "read": ("read", "read_file", "view", "view_file", "file_read", "cat"),
    "write": ("write", "write_file", "create_file", "file_write"),
    "list": ("list", "ls", "list_dir", "list_directory", "list_files"),
    "glob": ("glob", "find_files", "file_search"),
    "grep": ("grep", "search", "search_files", "grep_search", "ripgrep", "rg"),
    "fetch": ("webfetch", "web_fetch", "fetch", "fetch_url", "read_url"),
    "edit": ("edit", "edit_file", "str_replace", "replace"),
    "task": ("task", "agent"),
}
SLOTS: dict[str, tuple[str, ...]] = {
    "file": ("filePath", "file_path", "path", "filename", "file", "target_file"),
    "dir": ("path", "dir_path", "directory", "dir", "filePath", "file_path", "target_directory"),
    "command": ("command", "cmd"),
    "workdir": ("workdir", "cwd", "working_directory", "working_dir", "directory"),
    "timeout": ("timeout", "timeout_ms", "yield_time_ms", "timeoutMs"),
    "description": ("description",),
    "content": ("content", "contents", "file_text", "text", "data"),
    "offset": ("offset", "start_line", "line_offset"),
    "limit": ("limit", "max_lines", "line_limit"),
    "pattern": ("pattern", "query", "regex"),
    "include": ("include", "glob", "file_pattern", "includes", "file_glob"),
    "output_mode": ("output_mode",),
    "ignore_case": ("-i", "case_insensitive", "ignore_case", "ignoreCase"),
    "line_numbers": ("-n",),
    "context": ("-C", "context"),
    "before": ("-B", "context_before"),
    "after": ("-A", "context_after"),
    "head_limit": ("head_limit", "max_results"),
    "type": ("type",),
    "multiline": ("multiline",),
    "ignore": ("ignore",),
    "url": ("url",),
    "format": ("format",),
    "prompt": ("prompt",),
    "old": ("oldString", "old_string", "old_str", "old_text"),
    "new": ("newString", "new_string", "new_str", "new_text"),
    "subagent_type": ("subagent_type", "subagentType", "agent_type"),
}
# Argument names to use when a tool publishes no schema, by vocabulary.
_DEFAULTS: dict[str, dict[str, str]] = {
    "opencode": {"file": "filePath", "dir": "path", "old": "oldString", "new": "newString"},
    "claude": {"file": "file_path", "dir": "path", "old": "old_string", "new": "new_string"},
    "codex": {"command": "cmd", "file": "path", "dir": "path"},
    "generic": {"file": "path", "dir": "path"},
}
ESSENTIAL = frozenset(
    {"file", "dir", "command", "content", "pattern", "url", "old", "new", "prompt"}
)
_CLAUDE_NAMES = frozenset({"Read", "Bash", "Write", "Edit", "Glob", "Grep", "LS", "WebFetch"})


@dataclass(frozen=True, slots=True)
class ClientCall:
    """One call of a client tool, in the client's vocabulary.

    `role` says which capability it stands for (shell, read, list ...); `native_result`
    infers it from `name` when empty.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    role: str = ""


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    props: dict[str, Any] = field(default_factory=dict)
    description: str = ""


class Toolbox:
    """The client's tools, found by capability, with their argument names."""

    def __init__(self, tools: Sequence[ToolSpec]) -> None:
        self.tools = [_tool(spec) for spec in tools]
        self.names = [t.name for t in self.tools]
        self.vocabulary = _vocabulary(self.tools)

    def find(self, role: Role) -> Tool | None:
        by_name = {t.name.lower(): t for t in self.tools}
        for candidate in ROLE_NAMES[role]:
            tool = by_name.get(candidate)
            if tool is not None:
                return tool
        return None

    def param(self, tool: Tool, slot: str) -> str | None:
        if tool.props:
            return next((name for name in SLOTS[slot] if name in tool.props), None)
        if slot not in ESSENTIAL:
            return None
        return _DEFAULTS[self.vocabulary].get(slot, SLOTS[slot][0])


def _tool(spec: ToolSpec) -> Tool:
    props = spec.parameters.get("properties") if isinstance(spec.parameters, dict) else None
    return Tool(spec.name, props if isinstance(props, dict) else {}, spec.description)


def _vocabulary(tools: Sequence[Tool]) -> str:
    names = {t.name for t in tools}
    if names & _CLAUDE_NAMES:
        return "claude"
    if "exec_command" in names:
        return "codex"
    read = next((t for t in tools if t.name == "read"), None)
    if read is not None and ("filePath" in read.props or not read.props):
        return "opencode"
    return "generic"


def role_of(call: ClientCall) -> str:
    """The capability a client call stands for (its `role`, else guessed from its name)."""
    if call.role:
        return call.role
    name = call.name.lower()
    return next((role for role, names in ROLE_NAMES.items() if name in names), "")
