"""The other kinds: web fetch, diagnostics, subagents, MCP (calls, resources, state), the
request context, screen recording and computer use — arguments and results (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .files import PathArgs
from .rule import (
    ArgsView,
    NoArgs,
    Replies,
    Wire,
    answer,
    error_case,
    rejected_case,
    reply,
    view,
)

if TYPE_CHECKING:
    from ..events import ExecRequested


@dataclass(frozen=True, slots=True)
class FetchArgs(ArgsView):
    url: str = ""


@dataclass(frozen=True, slots=True)
class SubagentArgs(ArgsView):
    prompt: str = ""
    subagent_type: str = ""
    resume_agent_id: str = ""


@dataclass(frozen=True, slots=True)
class McpResourceArgs(ArgsView):
    """list_mcp_resources_exec_args (`server`) and read_mcp_resource_exec_args (+ `uri`)."""

    server: str = ""
    uri: str = ""


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
    return answer(event, "error", url=view(event, FetchArgs).url, error=error)


def diagnostics_rejected(event: ExecRequested, reason: str) -> Replies:
    return answer(event, "rejected", path=view(event, PathArgs).path, reason=reason)


def subagent_success(event: ExecRequested, final_message: str, *, agent_id: str = "") -> Replies:
    message = reply(event)
    success = message.subagent_result.success
    success.agent_id = agent_id or event.tool_call_id
    success.final_message = final_message
    return [message]


def subagent_error(event: ExecRequested, error: str) -> Replies:
    agent_id = view(event, SubagentArgs).resume_agent_id
    return answer(event, "error", agent_id=agent_id, error=error)


def list_mcp_resources_empty(event: ExecRequested) -> Replies:
    """No MCP resources: the client's tools are plain functions."""
    return answer(event, "success")


def read_mcp_resource_error(event: ExecRequested, error: str) -> Replies:
    return answer(event, "error", uri=view(event, McpResourceArgs).uri, error=error)


def _record_screen_refusal(event: ExecRequested, reason: str) -> Replies:
    return answer(event, "failure", error=reason)


WIRE = (
    Wire("diagnostics_args", PathArgs, diagnostics_rejected),
    Wire("request_context_args", NoArgs, error_case),
    Wire("mcp_args", NoArgs, error_case),
    Wire("list_mcp_resources_exec_args", McpResourceArgs, rejected_case),
    Wire("read_mcp_resource_exec_args", McpResourceArgs, read_mcp_resource_error),
    Wire("fetch_args", FetchArgs, fetch_error),
    Wire("record_screen_args", NoArgs, _record_screen_refusal),
    Wire("computer_use_args", NoArgs, error_case),
    Wire("subagent_args", SubagentArgs, subagent_error),
    Wire("mcp_state_exec_args", NoArgs, rejected_case),
)
