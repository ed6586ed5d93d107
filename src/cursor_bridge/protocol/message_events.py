"""Events and answers the RunMachine builds from decoded (less common) server messages:
exec requests, the todo list of an `update_todos` call, the answer to an MCP-state probe,
the error that gRPC-style trailers report.
Kept apart from run.py, which holds the state machine and its per-message paths. Pure.
"""

from __future__ import annotations

from urllib.parse import unquote

from google.protobuf import json_format

from . import events as ev
from .errors import GRPC_TO_CONNECT, ConnectError
from .messages import agent, value_bytes_to_json


def mcp_state_servers(context: agent.RequestContext) -> list[agent.McpStateServer]:
    """The answer to an MCP-state probe, from the descriptors the context names: one server
    per descriptor with its full tool definitions (as the current client answers, §3)."""
    descriptors = list(context.mcp_meta_tool_options.mcp_descriptors)
    servers = []
    for descriptor in descriptors:
        tools = [
            tool
            for tool in context.tools
            if tool.provider_identifier == descriptor.server_identifier
        ]
        servers.append(
            agent.McpStateServer(
                server_name=descriptor.server_name,
                server_identifier=descriptor.server_identifier,
                tools=tools,
            )
        )
    return servers


def todos(call: agent.ToolCall) -> ev.TodosUpdated | None:
    """The list after an `update_todos` call: the result's (merged) list, else the args'."""
    if call.WhichOneof("tool") != "update_todos_tool_call":
        return None
    update = call.update_todos_tool_call
    items = update.result.success.todos if update.result.HasField("success") else update.args.todos
    return ev.TodosUpdated(
        tuple(
            ev.Todo(item.id, item.content, _TODO_STATUS.get(item.status, "pending"))
            for item in items
        )
    )


_TODO_STATUS: dict[int, str] = {
    agent.TODO_STATUS_PENDING: "pending",
    agent.TODO_STATUS_IN_PROGRESS: "in_progress",
    agent.TODO_STATUS_COMPLETED: "completed",
    agent.TODO_STATUS_CANCELLED: "cancelled",
}


def exec_event(request: agent.ExecServerMessage, kind: str) -> ev.ExecRequested:
    variant = getattr(request, kind)
    if kind == "mcp_args":
        args = {key: value_bytes_to_json(raw) for key, raw in variant.args.items()}
        return ev.ExecRequested(
            request.id,
            request.exec_id,
            kind,
            args,
            tool_call_id=variant.tool_call_id,
            tool_name=variant.tool_name or variant.name,
            wire_name=variant.name,
            provider=variant.provider_identifier,
        )
    args = json_format.MessageToDict(variant, preserving_proto_field_name=True)
    return ev.ExecRequested(
        request.id, request.exec_id, kind, args, tool_call_id=args.get("tool_call_id", "")
    )


def trailers_error(trailers: list[tuple[str, str]]) -> ConnectError | None:
    """gRPC-style `grpc-status` / `grpc-message` trailers (some backends report errors so)."""
    values = dict(trailers)
    status = values.get("grpc-status")
    if status is None or status == "0":
        return None
    try:
        code = GRPC_TO_CONNECT.get(int(status), "unknown")
    except ValueError:
        code = "unknown"
    return ConnectError(code, unquote(values.get("grpc-message", "")))
