"""Built-in exec kinds mapped onto the client's own tools (placeholder until the adapters land).

Contract: `map_builtin()` names the client tool that can run a built-in exec (or None),
`native_result()` turns that tool's text output into the exec's typed result, `refuse()`
answers an exec nobody will run with an error the model can recover from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..protocol import events as ev
from ..protocol.messages import agent
from .request import ToolSpec


@dataclass(frozen=True, slots=True)
class ClientCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


def map_builtin(event: ev.ExecRequested, tools: Sequence[ToolSpec]) -> ClientCall | None:
    return None


def native_result(
    event: ev.ExecRequested, call: ClientCall, output: str, is_error: bool
) -> list[agent.ExecClientMessage]:
    return refuse(event, ())


def refuse(event: ev.ExecRequested, tools: Sequence[ToolSpec]) -> list[agent.ExecClientMessage]:
    reason = "Tool not available in this environment; answer without it."
    result = agent.ExecClientMessage(id=event.exec_id, exec_id=event.exec_key)
    kind = event.kind.removesuffix("_args")
    path = str(event.args.get("path", ""))
    if kind == "mcp":
        result.mcp_result.error.error = reason
    elif kind == "shell":
        result.shell_result.rejected.reason = reason
        result.shell_result.rejected.command = str(event.args.get("command", ""))
    elif kind == "shell_stream":
        result.shell_stream.rejected.reason = reason
        result.shell_stream.rejected.command = str(event.args.get("command", ""))
    elif kind == "read":
        result.read_result.rejected.path, result.read_result.rejected.reason = path, reason
    elif kind == "write":
        result.write_result.rejected.path, result.write_result.rejected.reason = path, reason
    elif kind == "delete":
        result.delete_result.rejected.path, result.delete_result.rejected.reason = path, reason
    elif kind == "ls":
        result.ls_result.rejected.path, result.ls_result.rejected.reason = path, reason
    elif kind == "grep":
        result.grep_result.error.error = reason
    return [result]
