"""fetch_args and subagent_args on the client's fetch and task tools, and the answers back."""

from __future__ import annotations

from typing import Any

from ...protocol.events import ExecRequested
from ...protocol.exec_kinds import Replies, view
from ...protocol.exec_kinds.services import (
    FetchArgs,
    SubagentArgs,
    fetch_error,
    fetch_success,
    subagent_error,
    subagent_success,
)
from ..vocabulary import ClientCall, Toolbox
from .calls import ClientOutput, fill, quote, shell_call


def map_fetch(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    url = view(event, FetchArgs).url
    tool = box.find("fetch")
    if tool is not None:
        format_name = box.param(tool, "format")
        values: dict[str, Any] = {"url": url}
        if format_name:
            values["format"] = "markdown"
        if box.param(tool, "prompt"):
            values["prompt"] = "Return the page's content verbatim, as markdown."
        return fill(box, tool, "fetch", values)
    if not url.startswith(("http://", "https://")):
        return None
    command = f"curl -fsSL --max-time 30 {quote(url)}"
    return shell_call(box, command, label=f"Fetch {url[:50]}", role="fetch")


def map_subagent(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, SubagentArgs)
    tool = box.find("task")
    prompt = args.prompt
    if tool is None or not prompt:
        return None
    wanted = args.subagent_type or "general"
    type_name = box.param(tool, "subagent_type")
    schema = tool.props.get(type_name) if type_name else None
    if isinstance(schema, dict):
        choices = schema.get("enum")
        if isinstance(choices, list) and choices and wanted not in choices:
            wanted = str(choices[0])
    values: dict[str, Any] = {
        "description": " ".join(prompt.split()[:6]),
        "prompt": prompt,
        "subagent_type": wanted if type_name else None,
    }
    return fill(box, tool, "task", values)


def fetch_result(event: ExecRequested, result: ClientOutput) -> Replies:
    if result.failed:
        return fetch_error(event, result.text or "the fetch failed")
    return fetch_success(event, result.text)


def subagent_result(event: ExecRequested, result: ClientOutput) -> Replies:
    if result.failed:
        return subagent_error(event, result.text or "the subagent failed")
    return subagent_success(event, result.text)
