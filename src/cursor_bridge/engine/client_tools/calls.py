"""Filling a client tool's own argument names, and running a command through its shell tool."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...protocol.events import ExecRequested
from ...protocol.exec_kinds import Replies
from ..vocabulary import ESSENTIAL, ClientCall, Role, Tool, Toolbox

DEFAULT_SHELL_TIMEOUT_MS = 30_000  # ShellArgs.timeout 0 means 30 s (O)


@dataclass(frozen=True, slots=True)
class ClientOutput:
    """A client tool's answer, cleaned: its text, whether it failed, and the shell's verdict."""

    text: str
    failed: bool
    exit_code: int | None
    timed_out: bool
    role: str
    workspace: str


Mapper = Callable[[ExecRequested, Toolbox], ClientCall | None]
ResultParser = Callable[[ExecRequested, ClientOutput], Replies]


def fill(box: Toolbox, tool: Tool, role: Role, values: dict[str, Any]) -> ClientCall | None:
    """Fill `values` (slot -> value) into the tool's own argument names.

    None when a slot the call needs has no argument in the tool's schema.
    """
    arguments: dict[str, Any] = {}
    for slot, value in values.items():
        if value is None:
            continue
        name = box.param(tool, slot)
        if name is None:
            if slot in ESSENTIAL:
                return None
            continue
        arguments[name] = value
    return ClientCall(tool.name, arguments, role)


def shell_call(
    box: Toolbox,
    command: str,
    *,
    workdir: str = "",
    timeout_ms: int = 0,
    label: str = "",
    role: Role = "shell",
) -> ClientCall | None:
    """`command` through the client's shell tool (None: it has none), marked as `role`."""
    tool = box.find("shell")
    if tool is None:
        return None
    workdir_name = box.param(tool, "workdir")
    if workdir and workdir_name is None:
        command = f"cd {shlex.quote(workdir)} && {command}"
    command_name = box.param(tool, "command") or "command"
    command_schema = tool.props.get(command_name, {})
    value: Any = command
    if isinstance(command_schema, dict) and command_schema.get("type") == "array":
        value = ["bash", "-lc", command]  # Codex `shell` takes an argv
    arguments: dict[str, Any] = {command_name: value}
    if workdir and workdir_name:
        arguments[workdir_name] = workdir
    timeout_name = box.param(tool, "timeout")
    if timeout_name:
        arguments[timeout_name] = _timeout_value(
            tool.props.get(timeout_name), timeout_name, timeout_ms or DEFAULT_SHELL_TIMEOUT_MS
        )
    description_name = box.param(tool, "description")
    if description_name:
        arguments[description_name] = label or _describe(command)
    return ClientCall(tool.name, arguments, role)


def _describe(command: str) -> str:
    first = command.strip().splitlines()[0] if command.strip() else "command"
    return f"Run {first[:60]}"


def _timeout_value(schema: Any, name: str, ms: int) -> int:
    """`ms` in the unit the tool's timeout takes (milliseconds unless it says seconds)."""
    value = ms
    description = schema_description(schema)
    if name == "timeout" and "second" in description and "milli" not in description:
        value = max(1, -(-ms // 1000))
    maximum = schema.get("maximum") if isinstance(schema, dict) else None
    if isinstance(maximum, int | float) and value > maximum:
        value = int(maximum)
    return value


def schema_description(schema: Any) -> str:
    """An argument schema's description, lower-cased ("" when it has none)."""
    return str(schema.get("description", "")).lower() if isinstance(schema, dict) else ""


def quote(value: str) -> str:
    return shlex.quote(value)
