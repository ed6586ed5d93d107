"""Cursor's built-in exec kinds answered through the client's own tools (pure: no I/O).

`map_builtin` turns one exec request into a call of the client's matching tool
(`ClientCall`), `native_result` turns the tool's text result back into the kind's typed
result, and `refuse` answers what cannot be mapped with a reason naming the tools the model
can use instead. Which mapper, parser and reason serve a kind is the kind's record in the
exec-kind registry; the mappers and parsers themselves are in engine/client_tools.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..protocol import exec_kinds as wire
from ..protocol.events import ExecRequested
from ..protocol.exec_kinds import Replies
from . import tool_output as out
from .client_tools.calls import ClientOutput
from .exec_registry import BRIDGE_SERVER, record_of
from .request import ToolSpec
from .vocabulary import ROLE_NAMES, ClientCall, Toolbox, role_of

__all__ = [
    "ClientCall",
    "Toolbox",
    "map_builtin",
    "native_result",
    "refusal_reason",
    "refuse",
    "role_of",
]

_DATA_ROLES = frozenset({"read", "list", "grep", "glob", "write", "edit"})


def map_builtin(event: ExecRequested, tools: Sequence[ToolSpec]) -> ClientCall | None:
    """The client tool call standing for the built-in exec `event`, or None (refuse it)."""
    record = record_of(event.kind)
    if record is None or record.to_client is None:
        return None
    return record.to_client(event, Toolbox(tools))


def native_result(
    event: ExecRequested,
    call: ClientCall,
    output: str,
    is_error: bool,
    *,
    workspace: str = "",
) -> Replies:
    """The client's text result of `call` as the typed result of the exec `event`.

    `workspace` (the workspace root) keys grep results and relativises listed paths. When
    the text cannot be read as the kind's data, the answer is an honest error carrying it.
    """
    role = role_of(call)
    failed = is_error
    exit_code: int | None = None
    timed_out = False
    if call.name.lower() in ROLE_NAMES["shell"]:
        shell = out.shell_text(output)
        output, exit_code, timed_out = shell.output, shell.exit_code, shell.timed_out
        failed = is_error or (exit_code is not None and exit_code != 0)
    else:
        output = out.strip_reminders(output)
        # Clients speaking OpenAI's API cannot flag a failed tool: recognise error texts.
        wrapped = output.lstrip().startswith(("<path>", "<file>"))
        if role in _DATA_ROLES and not wrapped and out.looks_like_error(output):
            failed = True
    record = record_of(event.kind)
    if record is None or record.from_client is None:
        return wire.refusal(event, f"No result conversion for {event.kind}.")
    return record.from_client(
        event, ClientOutput(output, failed, exit_code, timed_out, role, workspace)
    )


def refusal_reason(event: ExecRequested, tools: Sequence[ToolSpec]) -> str:
    """Why the built-in cannot run here, and which of the client's tools to use instead."""
    record = record_of(event.kind)
    label = record.display_label if record else event.kind.removesuffix("_args").replace("_", " ")
    names = [spec.name for spec in tools]
    reason = f"Cursor's built-in {label} tool is not available in this environment."
    substitute = record.substitute if record else None
    if substitute is not None:
        tool = Toolbox(tools).find(substitute.role)
        if tool is not None:
            reason += f" Instead, {substitute.hint} the `{tool.name}` tool."
    if names:
        reason += " Use the tools provided instead: " + ", ".join(names) + "."
    else:
        reason += " No tools are available; answer without running anything."
    return reason


def refuse(
    event: ExecRequested,
    tools: Sequence[ToolSpec],
    *,
    server: str = BRIDGE_SERVER,
) -> Replies:
    """The answer for an exec the client will not run (or the bridge answers itself).

    A kind with a fixed answer (MCP resource listing: an empty list) gets it; a kind with a
    reason of its own (an MCP resource read: "server not found"; an MCP call of a tool the
    client does not offer) gets that in its refusal case; everything else gets
    `refusal_reason`. (The MCP state probe never gets here: the RunMachine answers it.)
    """
    record = record_of(event.kind)
    if record is not None and record.answer is not None:
        return record.answer(event)
    if record is not None and record.client_reason is not None:
        return wire.refusal(event, record.client_reason(event, tools, server))
    return wire.refusal(event, refusal_reason(event, tools))
