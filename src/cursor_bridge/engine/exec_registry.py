"""The exec-kind registry: one record per Cursor exec kind, saying how the engine answers it.

The backend's model asks for built-in tools as exec requests (protocol/exec_kinds has their
wire facts: argument views, result builders, the result-field rule). Each record here says,
for one request field:

- `handling`: `client` (mapped onto a client tool when one fits, refused otherwise),
  `bridge` (answered by the bridge with a fixed result), `refused` (never run), or
  `protocol` (answered elsewhere: request_context and mcp_state by the RunMachine, mcp_args
  by the engine's tool-call path);
- `to_client` / `from_client`: the client tool call standing for it, and that tool's text
  result turned back into the kind's typed result (engine/client_tools);
- `bridge_tool`: what the bridge's own executor does with it (engine/executor), and
  `bridge_refusal`: what it says when it will not;
- `label` and `substitute`: how a refusal names the tool and which client tool to use instead.

A test checks that every kind our schema declares has exactly one record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..protocol.events import ExecRequested
from ..protocol.exec_kinds import Replies, view
from ..protocol.exec_kinds.services import McpResourceArgs, list_mcp_resources_empty
from .client_tools import files, search, services, shell
from .client_tools.calls import Mapper, ResultParser
from .request import ToolSpec
from .vocabulary import Role

Handling = Literal["client", "bridge", "refused", "protocol"]
# The bridge executor's tools (engine/executor/builtin.py); write, edit and delete need
# --allow-write, shell needs --allow-shell.
BridgeTool = Literal["read", "list", "search", "write", "edit", "delete", "shell"]
# Why a refused kind cannot run here, for the model (the client path).
ClientReason = Callable[[ExecRequested, Sequence[ToolSpec], str], str]

BRIDGE_SERVER = "cursor-bridge"
NOT_AVAILABLE = "This tool is not available in this environment."


@dataclass(frozen=True, slots=True)
class Substitute:
    """The client capability that can stand in for a refused kind, and how to say so."""

    role: Role
    hint: str


@dataclass(frozen=True, slots=True)
class ExecKind:
    """How the engine answers one exec kind (see the module docstring)."""

    kind: str
    handling: Handling
    label: str = ""
    to_client: Mapper | None = None
    from_client: ResultParser | None = None
    substitute: Substitute | None = None
    answer: Callable[[ExecRequested], Replies] | None = None
    client_reason: ClientReason | None = None
    bridge_tool: BridgeTool | None = None
    bridge_refusal: str = NOT_AVAILABLE

    @property
    def display_label(self) -> str:
        return self.label or self.kind.removesuffix("_args").replace("_", " ")


def _mcp_resource_missing(event: ExecRequested, tools: Sequence[ToolSpec], server: str) -> str:
    name = view(event, McpResourceArgs).server or server
    return (
        f'Server "{name}" not found. MCP resources are not available; use the tools '
        "provided instead."
    )


def _tool_missing(event: ExecRequested, tools: Sequence[ToolSpec], server: str) -> str:
    names = ", ".join(spec.name for spec in tools) or "none"
    return f"Tool {event.tool_name!r} is not available. Available tools: {names}."


def _shell(kind: str, label: str = "shell") -> ExecKind:
    return ExecKind(
        kind,
        "client",
        label,
        to_client=shell.map_shell,
        from_client=shell.shell_result,
        bridge_tool="shell",
    )


def _pi(kind: str, to_client: Mapper, bridge_tool: BridgeTool) -> ExecKind:
    from_client = files.pi_read_result if kind == "pi_read_args" else files.pi_text_result
    return ExecKind(kind, "client", "", to_client, from_client, bridge_tool=bridge_tool)


RECORDS = (
    _shell("shell_args"),
    ExecKind(
        "write_args",
        "client",
        "file write",
        to_client=files.map_write,
        from_client=files.write_result,
        bridge_tool="write",
    ),
    ExecKind(
        "delete_args",
        "client",
        "file delete",
        to_client=files.map_delete,
        from_client=files.delete_result,
        substitute=Substitute("shell", "delete files with"),
        bridge_tool="delete",
    ),
    ExecKind(
        "grep_args",
        "client",
        "search",
        to_client=search.map_grep,
        from_client=search.grep_result,
        bridge_tool="search",
    ),
    ExecKind(
        "read_args",
        "client",
        "file read",
        to_client=files.map_read,
        from_client=files.read_result,
        bridge_tool="read",
    ),
    ExecKind(
        "ls_args",
        "client",
        "directory listing",
        to_client=files.map_ls,
        from_client=files.ls_result,
        substitute=Substitute("glob", "list files with"),
        bridge_tool="list",
    ),
    ExecKind(
        "diagnostics_args",
        "refused",
        "diagnostics (lints)",
        substitute=Substitute("shell", "run the project's linter or type checker with"),
        bridge_refusal="Diagnostics are not available here; run the project's linter or type "
        "checker with a shell command instead (needs --allow-shell).",
    ),
    ExecKind("request_context_args", "protocol"),
    ExecKind(
        "mcp_args",
        "protocol",
        client_reason=_tool_missing,
        bridge_refusal="No client tools are available in this conversation.",
    ),
    _shell("shell_stream_args"),
    ExecKind(
        "background_shell_spawn_args",
        "client",
        "background shell",
        to_client=shell.map_background,
        from_client=shell.background_result,
        substitute=Substitute("shell", "run the command in the foreground with"),
        bridge_refusal="Background processes are not supported by the bridge's executor; run "
        "the command in the foreground instead.",
    ),
    ExecKind("list_mcp_resources_exec_args", "bridge", answer=list_mcp_resources_empty),
    ExecKind(
        "read_mcp_resource_exec_args",
        "bridge",
        client_reason=_mcp_resource_missing,
        bridge_refusal="No MCP servers are connected.",
    ),
    ExecKind(
        "fetch_args",
        "client",
        "web fetch",
        to_client=services.map_fetch,
        from_client=services.fetch_result,
        substitute=Substitute("fetch", "fetch pages with"),
        bridge_refusal="Fetching URLs is not available: the bridge's executor works on local "
        "files only.",
    ),
    ExecKind("record_screen_args", "refused", "screen recording"),
    ExecKind("computer_use_args", "refused", "computer use"),
    ExecKind(
        "write_shell_stdin_args",
        "refused",
        "shell input",
        substitute=Substitute("shell", "run a non-interactive command with"),
    ),
    ExecKind(
        "subagent_args",
        "client",
        "subagent",
        to_client=services.map_subagent,
        from_client=services.subagent_result,
    ),
    ExecKind("mcp_state_exec_args", "protocol"),
    _pi("pi_read_args", files.map_read, "read"),
    _pi("pi_bash_args", shell.map_pi_bash, "shell"),
    _pi("pi_edit_args", files.map_pi_edit, "edit"),
    _pi("pi_write_args", files.map_write, "write"),
    _pi("pi_grep_args", search.map_pi_grep, "search"),
    _pi("pi_find_args", search.map_pi_find, "search"),
    _pi("pi_ls_args", files.map_ls, "list"),
)

REGISTRY: dict[str, ExecKind] = {record.kind: record for record in RECORDS}


def record_of(kind: str) -> ExecKind | None:
    """The record for `kind`; None for `unknown` (a variant newer than our schema)."""
    return REGISTRY.get(kind)
