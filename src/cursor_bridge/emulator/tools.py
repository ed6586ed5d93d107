"""Scripted tool calls: the exec requests `/tool` and `/exec` lines stand for, and their results.

`plan_calls` turns a Script's tool groups into ready exec requests (MCP calls are matched
against the client's RequestContext.tools by name or tool_name, else as `SERVER.TOOL`
against the MCP descriptors the context carries, as configured, whatever the tool's wire
name; built-in args are filled from the JSON by proto field names); `describe_result` quotes
what the client answered (in the result field protocol/exec_kinds names), for the final
answer; `mcp_result` is the McpResult kept in the
turn's tool-call step.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import Message

from ..protocol.exec_kinds import args_message, display_member, result_field
from ..protocol.messages import agent, json_to_value_bytes
from .exec_call import ExecCall
from .history import describe_mcp_result
from .script import EXEC_WORDS, Script, ToolCallSpec


@dataclass(slots=True)
class PlannedCall:
    """One exec request ready to send: `kind` is the ExecServerMessage oneof member."""

    spec: ToolCallSpec
    kind: str
    args: Message
    call_id: str
    label: str


def plan_calls(
    script: Script,
    tools: Sequence[agent.McpToolDefinition],
    descriptors: Sequence[agent.McpDescriptor] = (),
) -> list[list[PlannedCall]] | str:
    """Build every exec request up front; a bad argument makes the whole script an error (str)."""
    groups: list[list[PlannedCall]] = []
    for group in script.tool_groups:
        planned = []
        for spec in group:
            call_id = f"toolu_emu_{uuid.uuid4().hex[:24]}"
            if spec.kind == "mcp":
                planned.append(_mcp_call(spec, call_id, tools, descriptors))
                continue
            field_name = EXEC_WORDS[spec.name]
            args = args_message(field_name)()
            try:
                json_format.ParseDict(spec.args, args)
            except json_format.ParseError as exc:
                return f"bad arguments for /exec {spec.name}: {exc}"
            if "tool_call_id" in args.DESCRIPTOR.fields_by_name:
                setattr(args, "tool_call_id", call_id)  # noqa: B010
            planned.append(PlannedCall(spec, field_name, args, call_id, spec.name))
        groups.append(planned)
    return groups


def _mcp_call(
    spec: ToolCallSpec,
    call_id: str,
    tools: Sequence[agent.McpToolDefinition],
    descriptors: Sequence[agent.McpDescriptor],
) -> PlannedCall:
    tool = next((t for t in tools if spec.name in (t.name, t.tool_name)), None)
    if tool is None:
        tool = _by_server(spec.name, tools, descriptors) or agent.McpToolDefinition(
            name=spec.name, tool_name=spec.name
        )
    args = agent.McpArgs(
        name=tool.name or spec.name,
        tool_name=tool.tool_name or tool.name or spec.name,
        provider_identifier=tool.provider_identifier,
        tool_call_id=call_id,
    )
    for key, value in spec.args.items():
        args.args[key] = json_to_value_bytes(value)
    return PlannedCall(spec, "mcp_args", args, call_id, spec.name)


def _by_server(
    name: str,
    tools: Sequence[agent.McpToolDefinition],
    descriptors: Sequence[agent.McpDescriptor],
) -> agent.McpToolDefinition | None:
    """`SERVER.TOOL` by the names a descriptor gives (server name or id, real tool name):
    the definition advertised for it, or one named like the current client names them."""
    for cut in range(1, len(name) - 1):
        if name[cut] != ".":
            continue
        server, tool_name = name[:cut], name[cut + 1 :]
        for descriptor in descriptors:
            if server not in (descriptor.server_name, descriptor.server_identifier):
                continue
            if not any(t.tool_name == tool_name for t in descriptor.tools):
                continue
            identifier = descriptor.server_identifier
            return next(
                (
                    t
                    for t in tools
                    if t.provider_identifier == identifier and t.tool_name == tool_name
                ),
                agent.McpToolDefinition(
                    name=f"{identifier}-{tool_name}",
                    tool_name=tool_name,
                    provider_identifier=identifier,
                ),
            )
    return None


def mcp_result(call: ExecCall) -> agent.McpResult:
    for message in call.results:
        if message.WhichOneof("message") == "mcp_result":
            return message.mcp_result
    error = call.thrown or "no result"
    return agent.McpResult(error=agent.McpError(error=error))


def describe_result(call: ExecCall) -> str:
    """A one-line quote of what the client answered to an exec."""
    if call.thrown is not None:
        return f"thrown: {call.thrown}"
    if not call.results:
        return "(no result)"
    expected = result_field(call.kind)
    for message in call.results:
        which = message.WhichOneof("message")
        if which != expected:
            # The service cannot use an answer in another slot (a peer saw it stall).
            return f"mismatched result: {which or 'none'} for {call.kind} (expected {expected})"
    if call.kind == "shell_stream_args":
        return _describe_shell_stream(call.results)
    message = call.results[-1]
    which = message.WhichOneof("message")
    result = getattr(message, which)
    if which == "mcp_result":
        return describe_mcp_result(result)
    case = result.WhichOneof("result")
    if case is None:
        return f"{which}: (empty)"
    detail = json_format.MessageToDict(getattr(result, case))
    return f"{case} {json.dumps(detail, separators=(',', ':'), sort_keys=True)}"


def _describe_shell_stream(messages: list[agent.ExecClientMessage]) -> str:
    out: list[str] = []
    status = "no exit"
    for message in messages:
        if message.WhichOneof("message") != "shell_stream":
            continue
        event = message.shell_stream
        kind = event.WhichOneof("event")
        if kind == "stdout":
            out.append(event.stdout.data)
        elif kind == "stderr":
            out.append(event.stderr.data)
        elif kind == "exit":
            status = f"exit {event.exit.code}"
        elif kind == "rejected":
            status = f"rejected: {event.rejected.reason}"
    return f"{status}: {''.join(out)}"


def mcp_descriptors(context: agent.RequestContext) -> list[agent.McpDescriptor]:
    """The MCP servers the client describes (meta-tool and file-system lists, merged)."""
    seen: dict[str, agent.McpDescriptor] = {}
    for descriptor in (
        *context.mcp_meta_tool_options.mcp_descriptors,
        *context.mcp_file_system_options.mcp_descriptors,
    ):
        seen.setdefault(descriptor.server_identifier or descriptor.server_name, descriptor)
    return list(seen.values())


def builtin_display(
    kind: str, args: Message, call: ExecCall | None = None
) -> agent.ToolCall | None:
    """The display record (tool_call_started / completed) of a built-in exec, with its result
    once the call is answered (when the answer's type is the record's: not for a stream);
    None for kinds our schema has no record for."""
    member = display_member(kind)
    if member is None:
        return None
    tool_call = agent.ToolCall()
    record = getattr(tool_call, member)
    record.args.CopyFrom(args)
    answer_field = result_field(kind)
    for result in call.results if call is not None else ():
        answer = getattr(result, answer_field)
        if result.WhichOneof("message") == answer_field and answer.DESCRIPTOR is (
            record.result.DESCRIPTOR
        ):
            record.result.CopyFrom(answer)
    return tool_call
