"""The other kinds: web fetch, diagnostics, subagents, MCP (calls, resources, state), the
request context, screen recording and computer use — arguments and results (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from .files import PathArgs
from .rule import ArgsView, NoArgs, Replies, Wire, reply, text, view

if TYPE_CHECKING:
    from ..events import ExecRequested


@dataclass(frozen=True, slots=True)
class FetchArgs(ArgsView):
    url: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> Self:
        return cls(text(args, "url"))


@dataclass(frozen=True, slots=True)
class SubagentArgs(ArgsView):
    prompt: str = ""
    subagent_type: str = ""
    resume_agent_id: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> Self:
        return cls(text(args, "prompt"), text(args, "subagent_type"), text(args, "resume_agent_id"))


@dataclass(frozen=True, slots=True)
class McpResourceArgs(ArgsView):
    """list_mcp_resources_exec_args (`server`) and read_mcp_resource_exec_args (+ `uri`)."""

    server: str = ""
    uri: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> Self:
        return cls(text(args, "server"), text(args, "uri"))


def fetch_success(
    event: ExecRequested,
    content: str,
    *,
    status_code: int = 200,
    content_type: str = "text/markdown",
) -> Replies:
    message = reply(event)
    success = message.fetch_result.success
    success.url = view(event, FetchArgs).url
    success.content = content
    success.status_code = status_code
    success.content_type = content_type
    return [message]


def fetch_error(event: ExecRequested, error: str) -> Replies:
    message = reply(event)
    message.fetch_result.error.url = view(event, FetchArgs).url
    message.fetch_result.error.error = error
    return [message]


def diagnostics_rejected(event: ExecRequested, reason: str) -> Replies:
    message = reply(event)
    message.diagnostics_result.rejected.path = view(event, PathArgs).path
    message.diagnostics_result.rejected.reason = reason
    return [message]


def subagent_success(event: ExecRequested, final_message: str, *, agent_id: str = "") -> Replies:
    message = reply(event)
    success = message.subagent_result.success
    success.agent_id = agent_id or event.tool_call_id
    success.final_message = final_message
    return [message]


def subagent_error(event: ExecRequested, error: str) -> Replies:
    message = reply(event)
    message.subagent_result.error.agent_id = view(event, SubagentArgs).resume_agent_id
    message.subagent_result.error.error = error
    return [message]


def list_mcp_resources_empty(event: ExecRequested) -> Replies:
    """No MCP resources: the client's tools are plain functions."""
    message = reply(event)
    message.list_mcp_resources_exec_result.success.SetInParent()
    return [message]


def read_mcp_resource_error(event: ExecRequested, error: str) -> Replies:
    message = reply(event)
    message.read_mcp_resource_exec_result.error.uri = view(event, McpResourceArgs).uri
    message.read_mcp_resource_exec_result.error.error = error
    return [message]


def mcp_error(event: ExecRequested, reason: str) -> Replies:
    message = reply(event)
    message.mcp_result.error.error = reason
    return [message]


def _context_refusal(event: ExecRequested, reason: str) -> Replies:
    message = reply(event)
    message.request_context_result.error.error = reason
    return [message]


def _list_resources_refusal(event: ExecRequested, reason: str) -> Replies:
    message = reply(event)
    message.list_mcp_resources_exec_result.rejected.reason = reason
    return [message]


def _mcp_state_refusal(event: ExecRequested, reason: str) -> Replies:
    message = reply(event)
    message.mcp_state_exec_result.rejected.reason = reason
    return [message]


def _record_screen_refusal(event: ExecRequested, reason: str) -> Replies:
    message = reply(event)
    message.record_screen_result.failure.error = reason
    return [message]


def _computer_use_refusal(event: ExecRequested, reason: str) -> Replies:
    message = reply(event)
    message.computer_use_result.error.error = reason
    return [message]


WIRE = (
    Wire("diagnostics_args", PathArgs, diagnostics_rejected),
    Wire("request_context_args", NoArgs, _context_refusal),
    Wire("mcp_args", NoArgs, mcp_error),
    Wire("list_mcp_resources_exec_args", McpResourceArgs, _list_resources_refusal),
    Wire("read_mcp_resource_exec_args", McpResourceArgs, read_mcp_resource_error),
    Wire("fetch_args", FetchArgs, fetch_error),
    Wire("record_screen_args", NoArgs, _record_screen_refusal),
    Wire("computer_use_args", NoArgs, _computer_use_refusal),
    Wire("subagent_args", SubagentArgs, subagent_error),
    Wire("mcp_state_exec_args", NoArgs, _mcp_state_refusal),
)
