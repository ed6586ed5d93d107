"""Cursor's built-in exec kinds on the client's own tools, and back (pure: no I/O).

The backend's model asks for built-ins (read, write, ls, grep, shell ...); the client offers
its own tools under its own names and argument names. `map_builtin` turns one exec request
into a call of the client's matching tool (`ClientCall`), `native_result` turns the tool's
text result back into the kind's typed result, and `refuse` answers what cannot be mapped
with a reason naming the tools the model can use instead. Nothing here runs anything.

The client's vocabulary is read from the offered tools' names and JSON schemas, so OpenCode
(`read{filePath}`, `bash{command, workdir, timeout, description}`, `grep{pattern, path,
include}`, `glob`, `webfetch{url, format}`, `edit{filePath, oldString, newString}`,
`task`), Claude Code (`Read{file_path, offset, limit}`, `Bash{command, timeout}`,
`Grep{pattern, path, glob, output_mode, -i, -n, -A, -B, -C, head_limit}`, `Glob`, `LS`,
`WebFetch{url, prompt}`, `Edit{file_path, old_string, new_string}`), Codex
(`exec_command{cmd, workdir, yield_time_ms}`, older `shell{command: [...], workdir,
timeout_ms}`) and generic tools (bash/shell/run_command, read_file, write_file, list_dir,
grep/search, glob, fetch) are all found the same way. Clients with only a shell (Codex) get
shell commands for reads, listings and searches.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..protocol.events import ExecRequested
from ..protocol.messages import agent, json_to_value_bytes
from . import natives
from . import tool_output as out
from .request import ToolSpec
from .vocabulary import ESSENTIAL, ROLE_NAMES, ClientCall, Role, Tool, Toolbox, role_of

__all__ = [
    "EXEC_HANDLING",
    "ClientCall",
    "Toolbox",
    "map_builtin",
    "native_result",
    "refusal_reason",
    "refuse",
    "role_of",
    "tool_definitions",
    "write_content",
]

Handling = Literal["client", "bridge", "refused", "protocol"]

# How each exec kind of our schema is answered (a test checks the table is complete):
# client = mapped onto a client tool when one fits (refused otherwise), bridge = answered by
# the bridge with a fixed result, refused = never run, protocol = answered elsewhere
# (request_context and mcp_state by RunMachine, mcp_args by the engine's tool-call path).
EXEC_HANDLING: dict[str, Handling] = {
    "shell_args": "client",
    "write_args": "client",
    "delete_args": "client",
    "grep_args": "client",
    "read_args": "client",
    "ls_args": "client",
    "diagnostics_args": "refused",
    "request_context_args": "protocol",
    "mcp_args": "protocol",
    "shell_stream_args": "client",
    "background_shell_spawn_args": "client",
    "list_mcp_resources_exec_args": "bridge",
    "read_mcp_resource_exec_args": "bridge",
    "fetch_args": "client",
    "record_screen_args": "refused",
    "computer_use_args": "refused",
    "write_shell_stdin_args": "refused",
    "subagent_args": "client",
    "mcp_state_exec_args": "protocol",
    "pi_read_args": "client",
    "pi_bash_args": "client",
    "pi_edit_args": "client",
    "pi_write_args": "client",
    "pi_grep_args": "client",
    "pi_find_args": "client",
    "pi_ls_args": "client",
}

DEFAULT_SHELL_TIMEOUT_MS = 30_000  # ShellArgs.timeout 0 means 30 s (O)
MAX_SHELL_WRITE = 100_000  # file bodies written through a shell command (one argv string)
BRIDGE_SERVER = "cursor-bridge"

# -- mapping ------------------------------------------------------------------------------


def map_builtin(event: ExecRequested, tools: Sequence[ToolSpec]) -> ClientCall | None:
    """The client tool call standing for the built-in exec `event`, or None (refuse it)."""
    mapper = _MAPPERS.get(event.kind)
    return None if mapper is None else mapper(event, Toolbox(tools))


def _call(box: Toolbox, tool: Tool, role: Role, values: dict[str, Any]) -> ClientCall | None:
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


def _shell(
    box: Toolbox,
    command: str,
    *,
    workdir: str = "",
    timeout_ms: int = 0,
    label: str = "",
) -> ClientCall | None:
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
    return ClientCall(tool.name, arguments, "shell")


def _describe(command: str) -> str:
    first = command.strip().splitlines()[0] if command.strip() else "command"
    return f"Run {first[:60]}"


def _timeout_value(schema: Any, name: str, ms: int) -> int:
    """`ms` in the unit the tool's timeout takes (milliseconds unless it says seconds)."""
    value = ms
    description = str(schema.get("description", "")).lower() if isinstance(schema, dict) else ""
    if name == "timeout" and "second" in description and "milli" not in description:
        value = max(1, -(-ms // 1000))
    maximum = schema.get("maximum") if isinstance(schema, dict) else None
    if isinstance(maximum, int | float) and value > maximum:
        value = int(maximum)
    return value


def _description(schema: Any) -> str:
    return str(schema.get("description", "")).lower() if isinstance(schema, dict) else ""


def _q(value: str) -> str:
    return shlex.quote(value)


def _int(event: ExecRequested, name: str) -> int:
    try:
        return int(event.args.get(name, 0) or 0)
    except (TypeError, ValueError):
        return 0


def _str(event: ExecRequested, name: str) -> str:
    value = event.args.get(name, "")
    return value if isinstance(value, str) else str(value)


def _map_read(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    path = _str(event, "path")
    offset, limit = _int(event, "offset"), _int(event, "limit")
    tool = box.find("read")
    if tool is not None:
        offset_name = box.param(tool, "offset")
        if offset > 0 and offset_name:
            described = _description(tool.props.get(offset_name))
            if "0-based" in described or "zero-based" in described:
                offset -= 1
        return _call(
            box,
            tool,
            "read",
            {
                "file": path,
                "offset": offset if offset > 0 else None,
                "limit": limit if limit > 0 else None,
            },
        )
    if offset > 0 or limit > 0:
        first = max(offset, 1)
        last = f"{first + limit - 1}" if limit > 0 else "$"
        return _shell(box, f"sed -n '{first},{last}p' {_q(path)}", label=f"Read {path}")
    return _shell(box, f"cat -- {_q(path)}", label=f"Read {path}")


def write_content(event: ExecRequested) -> str | None:
    """The text a write request puts in the file (None: binary content)."""
    raw = event.args.get("file_bytes")
    if raw:
        try:
            data = base64.b64decode(str(raw), validate=True)
            return data.decode(_str(event, "encoding_hint") or "utf-8")
        except (binascii.Error, LookupError, UnicodeDecodeError):
            return None
    return _str(event, "file_text") or _str(event, "content")


def _map_write(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    path, content = _str(event, "path"), write_content(event)
    if content is None:
        return None
    tool = box.find("write")
    if tool is not None:
        return _call(box, tool, "write", {"file": path, "content": content})
    if len(content.encode()) > MAX_SHELL_WRITE:
        return None
    directory = posixpath.dirname(path) or "."
    command = f"mkdir -p -- {_q(directory)} && printf '%s' {_q(content)} > {_q(path)}"
    return _shell(box, command, label=f"Write {path}")


def _map_delete(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    path = _str(event, "path")
    return _shell(box, f"rm -f -- {_q(path)}", label=f"Delete {path}")


def _map_ls(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    path = _str(event, "path") or "."
    tool = box.find("list")
    if tool is not None:
        ignore = event.args.get("ignore") or None
        return _call(box, tool, "list", {"dir": path, "ignore": ignore})
    read = box.find("read")
    if read is not None and box.vocabulary == "opencode":
        return _call(box, read, "list", {"file": path})  # OpenCode's read lists directories
    shell = _shell(box, f"ls -1Ap -- {_q(path)}", label=f"List {path}")
    if shell is not None:
        return ClientCall(shell.name, shell.arguments, "list")
    glob = box.find("glob")
    if glob is not None:
        return _call(box, glob, "glob", {"pattern": "*", "dir": path})
    return None


def _map_grep(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    pattern, path, glob = _str(event, "pattern"), _str(event, "path"), _str(event, "glob")
    if not pattern:
        return _glob_call(box, glob or "**/*", path) if glob else None
    mode = _str(event, "output_mode") or "content"
    tool = box.find("grep")
    if tool is not None:
        values: dict[str, Any] = {
            "pattern": pattern,
            "dir": path or None,
            "include": glob or None,
            "output_mode": mode,
            "ignore_case": True if event.args.get("case_insensitive") else None,
            "line_numbers": True if mode == "content" else None,
            "context": event.args.get("context"),
            "before": event.args.get("context_before"),
            "after": event.args.get("context_after"),
            "head_limit": event.args.get("head_limit"),
            "type": event.args.get("type"),
            "multiline": event.args.get("multiline"),
        }
        return _call(box, tool, "grep", values)
    flags = {"files_with_matches": "-rlE", "count": "-rcE"}.get(mode, "-rnE")
    if event.args.get("case_insensitive"):
        flags += "i"
    include = f" --include={_q(glob)}" if glob else ""
    command = (
        f"grep {flags} --exclude-dir=.git --exclude-dir=node_modules{include} "
        f"-- {_q(pattern)} {_q(path or '.')}"
    )
    if mode == "count":
        command += " | grep -v ':0$'"
    shell = _shell(box, command, label=f"Search for {pattern[:40]}")
    return None if shell is None else ClientCall(shell.name, shell.arguments, "grep")


def _glob_call(box: Toolbox, glob: str, path: str) -> ClientCall | None:
    tool = box.find("glob")
    if tool is not None:
        return _call(box, tool, "glob", {"pattern": glob, "dir": path or None})
    name = glob.rsplit("/", 1)[-1] if "/" in glob else glob
    command = (
        f"find {_q(path or '.')} -name .git -prune -o -name node_modules -prune -o "
        f"-type f -name {_q(name)} -print"
    )
    shell = _shell(box, command, label=f"Find {glob}")
    return None if shell is None else ClientCall(shell.name, shell.arguments, "glob")


def _map_shell(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    return _shell(
        box,
        _str(event, "command"),
        workdir=_str(event, "working_directory"),
        timeout_ms=_int(event, "timeout"),
    )


def _map_background(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    if event.args.get("enable_write_shell_stdin_tool"):
        return None  # it would expect to type into the process later; we cannot
    log = f"/tmp/cursor-bridge-bg-{event.exec_id}.log"
    command = f"nohup sh -c {_q(_str(event, 'command'))} > {_q(log)} 2>&1 < /dev/null & echo $!"
    return _shell(
        box, command, workdir=_str(event, "working_directory"), label="Start in background"
    )


def _map_fetch(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    url = _str(event, "url")
    tool = box.find("fetch")
    if tool is not None:
        format_name = box.param(tool, "format")
        values: dict[str, Any] = {"url": url}
        if format_name:
            values["format"] = "markdown"
        if box.param(tool, "prompt"):
            values["prompt"] = "Return the page's content verbatim, as markdown."
        return _call(box, tool, "fetch", values)
    if not url.startswith(("http://", "https://")):
        return None
    shell = _shell(box, f"curl -fsSL --max-time 30 {_q(url)}", label=f"Fetch {url[:50]}")
    return None if shell is None else ClientCall(shell.name, shell.arguments, "fetch")


def _map_subagent(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    tool = box.find("task")
    prompt = _str(event, "prompt")
    if tool is None or not prompt:
        return None
    wanted = _str(event, "subagent_type") or "general"
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
    return _call(box, tool, "task", values)


def _map_pi_bash(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    seconds = event.args.get("timeout") or 0
    timeout_ms = int(float(seconds) * 1000) if isinstance(seconds, int | float) else 0
    return _shell(box, _str(event, "command"), timeout_ms=timeout_ms)


def _map_pi_edit(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    edits = event.args.get("edits") or []
    tool = box.find("edit")
    if tool is None or len(edits) != 1 or not isinstance(edits[0], dict):
        return None
    edit = edits[0]
    values = {
        "file": _str(event, "path"),
        "old": str(edit.get("old_text", "")),
        "new": str(edit.get("new_text", "")),
    }
    return _call(box, tool, "edit", values)


def _map_pi_grep(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    values: dict[str, Any] = {
        "pattern": _str(event, "pattern"),
        "path": _str(event, "path"),
        "glob": _str(event, "glob"),
        "case_insensitive": bool(event.args.get("ignore_case")),
        "head_limit": event.args.get("limit"),
    }
    return _map_grep(_with_args(event, values), box)


def _map_pi_find(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    return _glob_call(box, _str(event, "pattern") or "**/*", _str(event, "path"))


def _with_args(event: ExecRequested, args: dict[str, Any]) -> ExecRequested:
    return ExecRequested(
        event.exec_id, event.exec_key, event.kind, args, event.tool_call_id, event.tool_name
    )


_MAPPERS: dict[str, Callable[[ExecRequested, Toolbox], ClientCall | None]] = {
    "read_args": _map_read,
    "write_args": _map_write,
    "delete_args": _map_delete,
    "ls_args": _map_ls,
    "grep_args": _map_grep,
    "shell_args": _map_shell,
    "shell_stream_args": _map_shell,
    "background_shell_spawn_args": _map_background,
    "fetch_args": _map_fetch,
    "subagent_args": _map_subagent,
    "pi_read_args": _map_read,
    "pi_bash_args": _map_pi_bash,
    "pi_edit_args": _map_pi_edit,
    "pi_write_args": _map_write,
    "pi_grep_args": _map_pi_grep,
    "pi_find_args": _map_pi_find,
    "pi_ls_args": _map_ls,
}


# -- results ------------------------------------------------------------------------------


_DATA_ROLES = frozenset({"read", "list", "grep", "glob", "write", "edit"})


def native_result(
    event: ExecRequested,
    call: ClientCall,
    output: str,
    is_error: bool,
    *,
    workspace: str = "",
) -> list[agent.ExecClientMessage]:
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
    if event.kind.startswith("pi_"):
        if event.kind == "pi_read_args" and not failed:
            return natives.pi_success(event, out.file_text(output).content)
        return natives.pi_error(event, output) if failed else natives.pi_success(event, output)
    builder = _RESULTS.get(event.kind)
    if builder is None:
        return natives.refusal(event, f"No result conversion for {event.kind}.")
    outcome = _Output(output, failed, exit_code, timed_out, role, workspace)
    return builder(event, outcome)


@dataclass(frozen=True, slots=True)
class _Output:
    text: str
    failed: bool
    exit_code: int | None
    timed_out: bool
    role: str
    workspace: str


def _read_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    if result.failed:
        if out.looks_not_found(result.text):
            return natives.read_not_found(event)
        return natives.read_error(event, result.text or "the read failed")
    body = out.file_text(result.text)
    if body.directory_entries is not None:
        return natives.read_invalid_file(event, "This path is a directory; list it with ls.")
    return natives.read_success(
        event, body.content, total_lines=body.total_lines, truncated=body.truncated
    )


def _write_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    if result.failed:
        return natives.write_error(event, result.text or "the write failed")
    return natives.write_success(event, write_content(event) or "")


def _delete_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    if result.failed:
        if out.looks_not_found(result.text):
            return natives.delete_not_found(event)
        return natives.delete_error(event, result.text or "the delete failed")
    return natives.delete_success(event)


def _ls_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    path = _str(event, "path") or result.workspace or "."
    if result.failed:
        return natives.ls_error(event, result.text or "the listing failed")
    root = path if path.startswith("/") else posixpath.join(result.workspace or "/", path)
    entries = out.listing_entries(result.text, root)
    return natives.ls_success(event, natives.ls_tree(root, entries))


def _grep_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    text, workspace = result.text, result.workspace
    # grep exits 1 when nothing matched: an empty answer, not a failure.
    no_match = result.exit_code == 1 and not text.strip()
    if result.failed and not no_match:
        return natives.grep_error(event, text or "the search failed")
    parsed = out.grep_text(text, workspace)
    prose = any(" " in f for f in parsed.files)
    pathless = not any("/" in f or "." in f for f in parsed.files)
    if parsed.files and prose and pathless and not parsed.matches and not parsed.counts:
        # Words, and nothing that looks like a path: the tool said something else (an error).
        return natives.grep_error(event, text.strip())
    pattern = _str(event, "pattern")
    mode = _str(event, "output_mode") or "content"
    if not pattern or result.role == "glob" or mode == "files_with_matches":
        return natives.grep_files(
            event, parsed.files, workspace=workspace, truncated=parsed.truncated
        )
    if mode == "count":
        return natives.grep_count(
            event, parsed.counts, workspace=workspace, truncated=parsed.truncated
        )
    if not parsed.matches and parsed.files:
        # The tool listed files only (e.g. Claude Code's default mode).
        return natives.grep_files(
            event, parsed.files, workspace=workspace, truncated=parsed.truncated
        )
    return natives.grep_content(
        event, parsed.matches, workspace=workspace, truncated=parsed.truncated
    )


def _shell_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    code = result.exit_code if result.exit_code is not None else (1 if result.failed else 0)
    outcome = natives.ShellOutcome(
        exit_code=code,
        stdout=result.text,
        timed_out=result.timed_out and code != 0,
        timeout_ms=_int(event, "timeout") or DEFAULT_SHELL_TIMEOUT_MS,
    )
    return natives.shell_reply(event, outcome)


def _background_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    pid = out.last_int(result.text)
    if result.failed or pid is None:
        return natives.background_spawn_error(event, result.text or "could not start")
    return natives.background_spawn_success(event, shell_id=pid, pid=pid)


def _fetch_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    if result.failed:
        return natives.fetch_error(event, result.text or "the fetch failed")
    return natives.fetch_success(event, result.text)


def _subagent_result(event: ExecRequested, result: _Output) -> list[agent.ExecClientMessage]:
    if result.failed:
        return natives.subagent_error(event, result.text or "the subagent failed")
    return natives.subagent_success(event, result.text)


_RESULTS: dict[str, Callable[[ExecRequested, _Output], list[agent.ExecClientMessage]]] = {
    "read_args": _read_result,
    "write_args": _write_result,
    "delete_args": _delete_result,
    "ls_args": _ls_result,
    "grep_args": _grep_result,
    "shell_args": _shell_result,
    "shell_stream_args": _shell_result,
    "background_shell_spawn_args": _background_result,
    "fetch_args": _fetch_result,
    "subagent_args": _subagent_result,
}


# -- refusals -----------------------------------------------------------------------------

_LABELS = {
    "shell_args": "shell",
    "shell_stream_args": "shell",
    "background_shell_spawn_args": "background shell",
    "write_shell_stdin_args": "shell input",
    "read_args": "file read",
    "write_args": "file write",
    "delete_args": "file delete",
    "ls_args": "directory listing",
    "grep_args": "search",
    "diagnostics_args": "diagnostics (lints)",
    "fetch_args": "web fetch",
    "record_screen_args": "screen recording",
    "computer_use_args": "computer use",
    "subagent_args": "subagent",
}
# The client capability that can stand in for a refused kind, for the hint.
_SUBSTITUTES: dict[str, tuple[Role, str]] = {
    "diagnostics_args": ("shell", "run the project's linter or type checker with"),
    "background_shell_spawn_args": ("shell", "run the command in the foreground with"),
    "write_shell_stdin_args": ("shell", "run a non-interactive command with"),
    "delete_args": ("shell", "delete files with"),
    "ls_args": ("glob", "list files with"),
    "fetch_args": ("fetch", "fetch pages with"),
}


def refusal_reason(event: ExecRequested, tools: Sequence[ToolSpec]) -> str:
    """Why the built-in cannot run here, and which of the client's tools to use instead."""
    label = _LABELS.get(event.kind, event.kind.removesuffix("_args").replace("_", " "))
    names = [spec.name for spec in tools]
    reason = f"Cursor's built-in {label} tool is not available in this environment."
    substitute = _SUBSTITUTES.get(event.kind)
    if substitute is not None:
        tool = Toolbox(tools).find(substitute[0])
        if tool is not None:
            reason += f" Instead, {substitute[1]} the `{tool.name}` tool."
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
) -> list[agent.ExecClientMessage]:
    """The answer for an exec the client will not run (or the bridge answers itself).

    MCP resource listing is answered with an empty list and an MCP resource read with "server
    not found" (the MCP state probe never gets here: the RunMachine answers it from the
    request context's descriptors). Everything else gets the kind's refusal case with
    `refusal_reason`.
    """
    kind = event.kind
    if kind == "list_mcp_resources_exec_args":
        return natives.list_mcp_resources_empty(event)
    if kind == "read_mcp_resource_exec_args":
        name = _str(event, "server") or server
        return natives.read_mcp_resource_error(
            event,
            f'Server "{name}" not found. MCP resources are not available; use the tools '
            "provided instead.",
        )
    if kind == "mcp_args":
        names = ", ".join(spec.name for spec in tools) or "none"
        return natives.refusal(
            event, f"Tool {event.tool_name!r} is not available. Available tools: {names}."
        )
    return natives.refusal(event, refusal_reason(event, tools))


def tool_definitions(tools: Sequence[ToolSpec], server: str) -> list[agent.McpToolDefinition]:
    """Plain MCP definitions of the client's tools under one server id."""
    out_defs = []
    for spec in tools:
        schema = spec.parameters or {"type": "object", "properties": {}}
        out_defs.append(
            agent.McpToolDefinition(
                name=spec.name,
                tool_name=spec.name,
                description=spec.description,
                provider_identifier=server,
                input_schema=json_to_value_bytes(schema),
            )
        )
    return out_defs
