"""Typed results for Cursor's built-in exec kinds (pure: no I/O).

The backend asks the client to run built-in tools (read, write, ls, grep, shell ...) and
expects each answer in the kind's own result message, in the ExecClientMessage slot whose
field number equals the request's (the pi_* family answers one number higher). Every
builder here returns the list of ExecClientMessages to send, `id` and `exec_id` echoed from
the request; the caller sends `stream_close` after the last one (RunMachine does).

Two producers use these builders: engine/adapters.py (the client ran the tool and returned
text) and engine/executor/ (the bridge ran it itself).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import Message

from ..protocol.events import ExecRequested
from ..protocol.messages import agent

# ShellStreamExit.abort_reason for a timeout (O's value; meaning inferred).
ABORT_REASON_TIMEOUT = 2

_REQUEST = agent.ExecServerMessage.DESCRIPTOR
_RESULT = agent.ExecClientMessage.DESCRIPTOR


def result_field(kind: str) -> str:
    """The ExecClientMessage member answering the ExecServerMessage member `kind`.

    Same field number, except the pi_* family whose result is one number higher.
    """
    request = _REQUEST.fields_by_name.get(kind)
    if request is None or request.containing_oneof is None:
        raise ValueError(f"not an exec request kind: {kind!r}")
    number = request.number + 1 if kind.startswith("pi_") else request.number
    return str(_RESULT.fields_by_number[number].name)


def exec_kinds() -> list[str]:
    """Every exec request member our schema declares (the `message` oneof of ExecServerMessage)."""
    return [field.name for field in _REQUEST.oneofs_by_name["message"].fields]


def typed_args(event: ExecRequested) -> Message:
    """The event's arguments as the request's own args message (unknown keys ignored)."""
    args_type = _REQUEST.fields_by_name[event.kind].message_type
    assert args_type is not None
    message: Message = getattr(agent, args_type.name)()  # args messages are top-level
    json_format.ParseDict(event.args, message, ignore_unknown_fields=True)
    return message


def reply(event: ExecRequested) -> agent.ExecClientMessage:
    """An empty ExecClientMessage addressed to `event`."""
    return agent.ExecClientMessage(id=event.exec_id, exec_id=event.exec_key)


def _result(event: ExecRequested) -> tuple[agent.ExecClientMessage, Message]:
    """A reply and its (empty) result message of the kind's own type."""
    message = reply(event)
    result: Message = getattr(message, result_field(event.kind))
    result.SetInParent()
    return message, result


def _arg(event: ExecRequested, name: str) -> str:
    value = event.args.get(name, "")
    return value if isinstance(value, str) else str(value)


def _path(event: ExecRequested) -> str:
    return _arg(event, "path")


def count_lines(text: str) -> int:
    """Lines as an editor counts them (a trailing newline does not open a new line)."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


# -- read ---------------------------------------------------------------------------------


def read_success(
    event: ExecRequested,
    content: str,
    *,
    total_lines: int | None = None,
    file_size: int | None = None,
    truncated: bool = False,
) -> list[agent.ExecClientMessage]:
    """`content` is the file text itself (no line-number prefixes: the model copies them)."""
    message = reply(event)
    success = message.read_result.success
    success.path = _path(event)
    success.content = content
    success.total_lines = count_lines(content) if total_lines is None else total_lines
    success.file_size = len(content.encode()) if file_size is None else file_size
    success.truncated = truncated
    return [message]


def read_not_found(event: ExecRequested) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.read_result.file_not_found.path = _path(event)
    return [message]


def read_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.read_result.error.path = _path(event)
    message.read_result.error.error = error
    return [message]


def read_rejected(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.read_result.rejected.path = _path(event)
    message.read_result.rejected.reason = reason
    return [message]


def read_invalid_file(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.read_result.invalid_file.path = _path(event)
    message.read_result.invalid_file.reason = reason
    return [message]


# -- write / delete -----------------------------------------------------------------------


def write_success(
    event: ExecRequested, content: str, *, file_size: int | None = None
) -> list[agent.ExecClientMessage]:
    """`content` is what the file now holds (returned when the request asked for it)."""
    message = reply(event)
    success = message.write_result.success
    success.path = _path(event)
    success.lines_created = count_lines(content)
    success.file_size = len(content.encode()) if file_size is None else file_size
    if event.args.get("return_file_content_after_write"):
        success.file_content_after_write = content
    return [message]


def write_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.write_result.error.path = _path(event)
    message.write_result.error.error = error
    return [message]


def write_rejected(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.write_result.rejected.path = _path(event)
    message.write_result.rejected.reason = reason
    return [message]


def write_permission_denied(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    denied = message.write_result.permission_denied
    denied.path = _path(event)
    denied.directory = posixpath.dirname(_path(event))
    denied.operation = "write"
    denied.error = error
    return [message]


def delete_success(
    event: ExecRequested, *, file_size: int = 0, prev_content: str = ""
) -> list[agent.ExecClientMessage]:
    message = reply(event)
    success = message.delete_result.success
    success.path = success.deleted_file = _path(event)
    success.file_size = file_size
    success.prev_content = prev_content
    return [message]


def delete_not_found(event: ExecRequested) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.delete_result.file_not_found.path = _path(event)
    return [message]


def delete_not_file(event: ExecRequested, actual_type: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.delete_result.not_file.path = _path(event)
    message.delete_result.not_file.actual_type = actual_type
    return [message]


def delete_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.delete_result.error.path = _path(event)
    message.delete_result.error.error = error
    return [message]


def delete_rejected(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.delete_result.rejected.path = _path(event)
    message.delete_result.rejected.reason = reason
    return [message]


# -- ls -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One listed path, relative to the listed directory (`/`-separated)."""

    path: str
    is_dir: bool = False


def ls_tree(
    root: str, entries: Iterable[Entry], *, processed: Iterable[str] | None = None
) -> agent.LsDirectoryTreeNode:
    """A directory tree rooted at the absolute path `root`.

    Directories named in `processed` (relative paths; the root is "") had their children
    listed; by default every directory that received an entry, and the root, did.
    """
    root = root.rstrip("/") or "/"
    top = agent.LsDirectoryTreeNode(abs_path=root)
    nodes: dict[str, agent.LsDirectoryTreeNode] = {"": top}
    filled: set[str] = {""}

    def directory(rel: str) -> agent.LsDirectoryTreeNode:
        node = nodes.get(rel)
        if node is None:
            parent = directory(posixpath.dirname(rel))
            node = parent.children_dirs.add(abs_path=posixpath.join(root, rel))
            nodes[rel] = node
        return node

    for entry in entries:
        rel = posixpath.normpath(entry.path.strip("/"))
        if rel in (".", "") or rel.startswith("../"):
            continue
        if entry.is_dir:
            directory(rel)
            filled.add(posixpath.dirname(rel))
        else:
            parent_rel = posixpath.dirname(rel)
            directory(parent_rel).children_files.add(name=posixpath.basename(rel))
            filled.add(parent_rel)
    done = set(processed) if processed is not None else filled
    _finish(top, "", done)
    return top


def _finish(node: agent.LsDirectoryTreeNode, rel: str, processed: set[str]) -> dict[str, int]:
    """Fill num_files, extension counts and children_were_processed bottom-up."""
    node.children_were_processed = rel in processed
    counts: dict[str, int] = {}
    files = len(node.children_files)
    for file in node.children_files:
        ext = posixpath.splitext(file.name)[1]
        if ext:
            counts[ext] = counts.get(ext, 0) + 1
    base = node.abs_path
    for child in node.children_dirs:
        child_rel = posixpath.join(rel, posixpath.relpath(child.abs_path, base))
        for ext, n in _finish(child, child_rel, processed).items():
            counts[ext] = counts.get(ext, 0) + n
        files += child.num_files
    node.num_files = files
    for ext, n in counts.items():
        node.full_subtree_extension_counts[ext] = n
    return counts


def ls_success(
    event: ExecRequested, tree: agent.LsDirectoryTreeNode
) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.ls_result.success.directory_tree_root.CopyFrom(tree)
    return [message]


def ls_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.ls_result.error.path = _path(event)
    message.ls_result.error.error = error
    return [message]


def ls_rejected(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.ls_result.rejected.path = _path(event)
    message.ls_result.rejected.reason = reason
    return [message]


# -- grep ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrepMatch:
    file: str
    line_number: int
    content: str
    is_context: bool = False


def _grep_success(
    event: ExecRequested, workspace: str, mode: str
) -> tuple[list[agent.ExecClientMessage], agent.GrepUnionResult]:
    message = reply(event)
    success = message.grep_result.success
    success.pattern = _arg(event, "pattern")
    success.path = _path(event)
    success.output_mode = mode
    return [message], success.workspace_results[workspace or _path(event) or "."]


def grep_files(
    event: ExecRequested, files: Sequence[str], *, workspace: str = "", truncated: bool = False
) -> list[agent.ExecClientMessage]:
    """A files_with_matches answer (also the answer to a glob-only search)."""
    messages, union = _grep_success(event, workspace, "files_with_matches")
    union.files.files.extend(files)
    union.files.total_files = len(files)
    union.files.client_truncated = truncated
    return messages


def grep_content(
    event: ExecRequested,
    matches: Sequence[GrepMatch],
    *,
    workspace: str = "",
    truncated: bool = False,
) -> list[agent.ExecClientMessage]:
    messages, union = _grep_success(event, workspace, "content")
    content = union.content
    current: agent.GrepFileMatch | None = None
    for match in matches:
        if current is None or current.file != match.file:
            current = content.matches.add(file=match.file)
        current.matches.add(
            line_number=match.line_number,
            content=match.content,
            is_context_line=match.is_context,
        )
    content.total_lines = len(matches)
    content.total_matched_lines = sum(1 for m in matches if not m.is_context)
    content.client_truncated = truncated
    return messages


def grep_count(
    event: ExecRequested,
    counts: Sequence[tuple[str, int]],
    *,
    workspace: str = "",
    truncated: bool = False,
) -> list[agent.ExecClientMessage]:
    messages, union = _grep_success(event, workspace, "count")
    for file, count in counts:
        union.count.counts.add(file=file, count=count)
    union.count.total_files = len(counts)
    union.count.total_matches = sum(count for _, count in counts)
    union.count.client_truncated = truncated
    return messages


def grep_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.grep_result.error.error = error
    return [message]


# -- shell --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShellOutcome:
    """What a finished (or killed) command produced."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    duration_ms: int = 0
    timed_out: bool = False
    timeout_ms: int = 0
    signal: str = ""


def shell_reply(event: ExecRequested, outcome: ShellOutcome) -> list[agent.ExecClientMessage]:
    """The answer for `shell_args` (one ShellResult) or `shell_stream_args` (a stream)."""
    if event.kind == "shell_stream_args":
        return shell_stream(event, outcome)
    return shell_result(event, outcome)


def shell_result(event: ExecRequested, outcome: ShellOutcome) -> list[agent.ExecClientMessage]:
    message = reply(event)
    command, cwd = _arg(event, "command"), _arg(event, "working_directory")
    result = message.shell_result
    if outcome.timed_out:
        result.timeout.command, result.timeout.working_directory = command, cwd
        result.timeout.timeout_ms = outcome.timeout_ms
        return [message]
    target = result.success if outcome.exit_code == 0 else result.failure
    target.command, target.working_directory = command, cwd
    target.exit_code = outcome.exit_code
    target.signal = outcome.signal
    target.stdout, target.stderr = outcome.stdout, outcome.stderr
    target.execution_time = outcome.duration_ms
    return [message]


def shell_stream(event: ExecRequested, outcome: ShellOutcome) -> list[agent.ExecClientMessage]:
    """start -> stdout -> stderr -> exit, as the CLI streams it (then stream_close)."""
    out: list[agent.ExecClientMessage] = []
    start = reply(event)
    start.shell_stream.start.SetInParent()
    out.append(start)
    if outcome.stdout:
        chunk = reply(event)
        chunk.shell_stream.stdout.data = outcome.stdout
        out.append(chunk)
    if outcome.stderr:
        chunk = reply(event)
        chunk.shell_stream.stderr.data = outcome.stderr
        out.append(chunk)
    end = reply(event)
    end.shell_stream.exit.code = max(outcome.exit_code, 0)
    end.shell_stream.exit.cwd = _arg(event, "working_directory")
    if outcome.timed_out:
        end.shell_stream.exit.aborted = True
        end.shell_stream.exit.abort_reason = ABORT_REASON_TIMEOUT
    out.append(end)
    return out


def shell_rejected(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    rejected = agent.ShellRejected(
        command=_arg(event, "command"),
        working_directory=_arg(event, "working_directory"),
        reason=reason,
    )
    if event.kind == "shell_stream_args":
        message.shell_stream.rejected.CopyFrom(rejected)
    elif event.kind == "background_shell_spawn_args":
        message.background_shell_spawn_result.rejected.CopyFrom(rejected)
    else:
        message.shell_result.rejected.CopyFrom(rejected)
    return [message]


def shell_spawn_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    """The command could not be started. A stream reports it as failed output + exit 127."""
    if event.kind == "shell_stream_args":
        return shell_stream(event, ShellOutcome(exit_code=127, stderr=error))
    message = reply(event)
    spawn = message.shell_result.spawn_error
    spawn.command, spawn.working_directory = (
        _arg(event, "command"),
        _arg(event, "working_directory"),
    )
    spawn.error = error
    return [message]


def background_spawn_success(
    event: ExecRequested, *, shell_id: int, pid: int | None = None
) -> list[agent.ExecClientMessage]:
    message = reply(event)
    success = message.background_shell_spawn_result.success
    success.shell_id = shell_id
    success.command = _arg(event, "command")
    success.working_directory = _arg(event, "working_directory")
    if pid is not None:
        success.pid = pid
    return [message]


def background_spawn_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    failed = message.background_shell_spawn_result.error
    failed.command = _arg(event, "command")
    failed.working_directory = _arg(event, "working_directory")
    failed.error = error
    return [message]


# -- fetch, diagnostics, subagents --------------------------------------------------------


def fetch_success(
    event: ExecRequested,
    content: str,
    *,
    status_code: int = 200,
    content_type: str = "text/markdown",
) -> list[agent.ExecClientMessage]:
    message = reply(event)
    success = message.fetch_result.success
    success.url = _arg(event, "url")
    success.content = content
    success.status_code = status_code
    success.content_type = content_type
    return [message]


def fetch_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.fetch_result.error.url = _arg(event, "url")
    message.fetch_result.error.error = error
    return [message]


def diagnostics_rejected(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.diagnostics_result.rejected.path = _path(event)
    message.diagnostics_result.rejected.reason = reason
    return [message]


def subagent_success(
    event: ExecRequested, final_message: str, *, agent_id: str = ""
) -> list[agent.ExecClientMessage]:
    message = reply(event)
    success = message.subagent_result.success
    success.agent_id = agent_id or event.tool_call_id
    success.final_message = final_message
    return [message]


def subagent_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.subagent_result.error.agent_id = _arg(event, "resume_agent_id")
    message.subagent_result.error.error = error
    return [message]


# -- MCP resources and state --------------------------------------------------------------


def list_mcp_resources_empty(event: ExecRequested) -> list[agent.ExecClientMessage]:
    """No MCP resources: the client's tools are plain functions."""
    message = reply(event)
    message.list_mcp_resources_exec_result.success.SetInParent()
    return [message]


def read_mcp_resource_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.read_mcp_resource_exec_result.error.uri = _arg(event, "uri")
    message.read_mcp_resource_exec_result.error.error = error
    return [message]


# -- pi family (result field = request field + 1) -----------------------------------------


def pi_success(event: ExecRequested, output: str) -> list[agent.ExecClientMessage]:
    message, result = _result(event)
    success = getattr(result, "success")  # noqa: B009 - every pi result has one
    success.output = output
    return [message]


def pi_error(event: ExecRequested, error: str) -> list[agent.ExecClientMessage]:
    message, result = _result(event)
    getattr(result, "error").error = error  # noqa: B009
    return [message]


def pi_rejected(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    """pi_edit and pi_write have a `rejected` case; the others answer with `error`."""
    message, result = _result(event)
    if "rejected" in result.DESCRIPTOR.fields_by_name:
        getattr(result, "rejected").reason = reason  # noqa: B009
    else:
        getattr(result, "error").error = reason  # noqa: B009
    return [message]


# -- refusals -----------------------------------------------------------------------------


def refusal(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    """`reason` in the kind's own refusal case (`rejected` where it has one, else `error`).

    Every exec kind of our schema is covered; `[]` only for "unknown" (RunMachine already
    threw for those). request_context_args is normally answered by RunMachine itself.
    """
    kind = event.kind
    if kind == "unknown":
        return []
    if kind in ("shell_args", "shell_stream_args", "background_shell_spawn_args"):
        return shell_rejected(event, reason)
    if kind.startswith("pi_"):
        return pi_rejected(event, reason)
    builder = _REFUSALS.get(kind)
    if builder is None:
        raise ValueError(f"no refusal for exec kind {kind!r}")
    return builder(event, reason)


def _mcp_refusal(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.mcp_result.error.error = reason
    return [message]


def _context_refusal(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.request_context_result.error.error = reason
    return [message]


def _list_resources_refusal(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.list_mcp_resources_exec_result.rejected.reason = reason
    return [message]


def _mcp_state_refusal(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.mcp_state_exec_result.rejected.reason = reason
    return [message]


def _record_screen_refusal(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.record_screen_result.failure.error = reason
    return [message]


def _computer_use_refusal(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.computer_use_result.error.error = reason
    return [message]


def _stdin_refusal(event: ExecRequested, reason: str) -> list[agent.ExecClientMessage]:
    message = reply(event)
    message.write_shell_stdin_result.error.error = reason
    return [message]


_REFUSALS = {
    "read_args": read_rejected,
    "write_args": write_rejected,
    "delete_args": delete_rejected,
    "ls_args": ls_rejected,
    "grep_args": grep_error,
    "diagnostics_args": diagnostics_rejected,
    "fetch_args": fetch_error,
    "mcp_args": _mcp_refusal,
    "request_context_args": _context_refusal,
    "list_mcp_resources_exec_args": _list_resources_refusal,
    "read_mcp_resource_exec_args": read_mcp_resource_error,
    "mcp_state_exec_args": _mcp_state_refusal,
    "record_screen_args": _record_screen_refusal,
    "computer_use_args": _computer_use_refusal,
    "write_shell_stdin_args": _stdin_refusal,
    "subagent_args": subagent_error,
}
