"""Cursor's exec kinds on the wire: the result-field rule, typed views of each kind's
arguments, and the builders of each kind's results (pure: no I/O).

One row of wire facts (`Wire`) per kind lives beside its views and builders, by concept:
files.py (read, write, delete, ls), search.py (grep), shell.py (shell, shell stream,
background shell, shell stdin), pi.py (the pi_* family) and services.py (the rest). A test
checks that every kind our schema declares has exactly one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import files, pi, search, services, shell
from .files import (
    Entry,
    LsArgs,
    PathArgs,
    ReadArgs,
    WriteArgs,
    delete_error,
    delete_not_file,
    delete_not_found,
    delete_permission_denied,
    delete_rejected,
    delete_success,
    ls_error,
    ls_rejected,
    ls_success,
    ls_tree,
    read_error,
    read_invalid_file,
    read_not_found,
    read_permission_denied,
    read_rejected,
    read_success,
    write_error,
    write_permission_denied,
    write_rejected,
    write_success,
)
from .pi import (
    Edit,
    PiBashArgs,
    PiEditArgs,
    PiFindArgs,
    PiGrepArgs,
    pi_error,
    pi_rejected,
    pi_success,
)
from .rule import (
    ArgsView,
    NoArgs,
    Replies,
    Wire,
    answer,
    args_message,
    count_lines,
    display_member,
    exec_kinds,
    reply,
    result_field,
    typed_args,
    view,
)
from .search import GrepArgs, GrepMatch, grep_content, grep_count, grep_error, grep_files
from .services import (
    FetchArgs,
    McpResourceArgs,
    SubagentArgs,
    diagnostics_rejected,
    fetch_error,
    fetch_success,
    list_mcp_resources_empty,
    read_mcp_resource_error,
    subagent_error,
    subagent_success,
)
from .shell import (
    ABORT_REASON_TIMEOUT,
    BackgroundShellArgs,
    CommandArgs,
    ShellArgs,
    ShellOutcome,
    background_spawn_error,
    background_spawn_success,
    shell_rejected,
    shell_reply,
    shell_result,
    shell_spawn_error,
    shell_stream,
)

if TYPE_CHECKING:
    from ..events import ExecRequested

WIRE: dict[str, Wire] = {
    row.kind: row for module in (files, search, shell, pi, services) for row in module.WIRE
}


def parse_args(kind: str, args: Mapping[str, Any]) -> ArgsView:
    """The typed view of a request's JSON-form arguments (NoArgs for a kind without a row)."""
    row = WIRE.get(kind)
    return NoArgs() if row is None else row.view.parse(args)


def refusal(event: ExecRequested, reason: str) -> Replies:
    """`reason` in the kind's own refusal case (`rejected` where it has one, else `error`).

    `[]` for "unknown" (the RunMachine already threw for those).
    """
    if event.kind == "unknown":
        return []
    row = WIRE.get(event.kind)
    if row is None:
        raise ValueError(f"no refusal for exec kind {event.kind!r}")
    return row.refuse(event, reason)


__all__ = [
    "ABORT_REASON_TIMEOUT",
    "WIRE",
    "ArgsView",
    "BackgroundShellArgs",
    "CommandArgs",
    "Edit",
    "Entry",
    "FetchArgs",
    "GrepArgs",
    "GrepMatch",
    "LsArgs",
    "McpResourceArgs",
    "NoArgs",
    "PathArgs",
    "PiBashArgs",
    "PiEditArgs",
    "PiFindArgs",
    "PiGrepArgs",
    "ReadArgs",
    "Replies",
    "ShellArgs",
    "ShellOutcome",
    "SubagentArgs",
    "Wire",
    "WriteArgs",
    "answer",
    "args_message",
    "background_spawn_error",
    "background_spawn_success",
    "count_lines",
    "delete_error",
    "delete_not_file",
    "delete_not_found",
    "delete_permission_denied",
    "delete_rejected",
    "delete_success",
    "diagnostics_rejected",
    "display_member",
    "exec_kinds",
    "fetch_error",
    "fetch_success",
    "grep_content",
    "grep_count",
    "grep_error",
    "grep_files",
    "list_mcp_resources_empty",
    "ls_error",
    "ls_rejected",
    "ls_success",
    "ls_tree",
    "parse_args",
    "pi_error",
    "pi_rejected",
    "pi_success",
    "read_error",
    "read_invalid_file",
    "read_mcp_resource_error",
    "read_not_found",
    "read_permission_denied",
    "read_rejected",
    "read_success",
    "refusal",
    "reply",
    "result_field",
    "shell_rejected",
    "shell_reply",
    "shell_result",
    "shell_spawn_error",
    "shell_stream",
    "subagent_error",
    "subagent_success",
    "typed_args",
    "view",
    "write_error",
    "write_permission_denied",
    "write_rejected",
    "write_success",
]
