"""The bridge's own executor for Cursor's built-in tools (`serve --workspace DIR`).

Used when the client offers no tools (seed 004): the model still asks for reads, listings,
searches and shell commands, and with a workspace configured the bridge answers them
itself, confined to that directory. What each switch grants (README, "Tool calling"):

- always: read, ls, grep/glob/find inside the workspace (symbolic links followed only while
  they stay inside; regular files only);
- `allow_write`: also write, edit and delete files there (atomically, never through a link);
- `allow_shell`: also run shell commands with the workspace (or a directory in it) as the
  working directory. A command runs with the bridge user's rights on the whole machine: the
  workspace confines its start, not its reach. It gets a scrubbed environment, a timeout,
  an output cap, its whole process tree killed at the end, and, with bubblewrap, a view
  without the bridge's state directory or other processes.

Anything else is refused with a reason that tells the model what is disabled and which
flag enables it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...protocol.events import ExecRequested
from ...protocol.messages import agent
from .. import natives
from .args import int_arg, str_arg
from .files import WorkspaceFiles
from .jail import PathJail, PathRejected
from .sandbox import wrap
from .search import WorkspaceSearch
from .shell import run_command

DEFAULT_OUTPUT_CAP = 256 * 1024

Replies = list[agent.ExecClientMessage]


@dataclass(frozen=True, slots=True)
class _Flag:
    what: str
    flag: str


_WRITE = _Flag("Writing and deleting files", "--allow-write")
_SHELL = _Flag("Running shell commands", "--allow-shell")
_SHELL_KINDS = frozenset({"shell_args", "shell_stream_args", "pi_bash_args"})
_SEARCH_KINDS = frozenset({"grep_args", "pi_grep_args", "pi_find_args"})


class BuiltinExecutor:
    """Runs built-in exec requests inside `workspace`; see the module docstring."""

    def __init__(
        self,
        workspace: Path,
        *,
        allow_write: bool = False,
        allow_shell: bool = False,
        timeout: float = 30.0,
        output_cap: int = DEFAULT_OUTPUT_CAP,
        max_results: int = 1000,
        max_ls_entries: int = 1000,
        max_ls_depth: int = 3,
        sandbox: bool = True,
    ) -> None:
        self.jail = PathJail(workspace)
        self.workspace = self.jail.workspace
        self.real_workspace = self.jail.real_workspace
        self.allow_write = allow_write
        self.allow_shell = allow_shell
        self.timeout = timeout
        self.output_cap = output_cap
        self.sandbox = sandbox
        self.files = WorkspaceFiles(
            self.jail,
            output_cap=output_cap,
            max_ls_entries=max_ls_entries,
            max_ls_depth=max_ls_depth,
        )
        self.search = WorkspaceSearch(self.jail, max_results=max_results, timeout=timeout)
        self._blocking: dict[str, tuple[Callable[[ExecRequested], Replies], bool]] = {
            "read_args": (self.files.read, False),
            "pi_read_args": (self.files.read, False),
            "ls_args": (self.files.ls, False),
            "pi_ls_args": (self.files.ls, False),
            "write_args": (self.files.write, True),
            "pi_write_args": (self.files.write, True),
            "pi_edit_args": (self.files.edit, True),
            "delete_args": (self.files.delete, True),
        }

    def resolve(self, raw: str, *, follow_last: bool = True) -> Path:
        return self.jail.resolve(raw, follow_last=follow_last)

    # -- dispatch -----------------------------------------------------------------------

    async def execute(self, event: ExecRequested) -> Replies:
        """The answer to one exec request (the caller sends stream_close after it)."""
        kind = event.kind
        try:
            if kind in _SHELL_KINDS:
                return await self._shell(event)
            if kind in _SEARCH_KINDS:
                return await self.search.grep(event)
            if kind in self._blocking:
                handler, writes = self._blocking[kind]
                if writes and not self.allow_write:
                    return self._disabled(event, _WRITE)
                return await asyncio.to_thread(handler, event)
        except PathRejected as exc:
            return natives.refusal(event, str(exc))
        return self._refuse(event)

    def _refuse(self, event: ExecRequested) -> Replies:
        kind = event.kind
        if kind == "unknown":
            return []
        if kind == "list_mcp_resources_exec_args":
            return natives.list_mcp_resources_empty(event)
        reasons = {
            "background_shell_spawn_args": "Background processes are not supported by the "
            "bridge's executor; run the command in the foreground instead.",
            "fetch_args": "Fetching URLs is not available: the bridge's executor works on "
            "local files only.",
            "diagnostics_args": "Diagnostics are not available here; run the project's "
            "linter or type checker with a shell command instead (needs --allow-shell).",
            "read_mcp_resource_exec_args": "No MCP servers are connected.",
            "mcp_args": "No client tools are available in this conversation.",
        }
        reason = reasons.get(kind, "This tool is not available in this environment.")
        return natives.refusal(event, reason)

    def _disabled(self, event: ExecRequested, flag: _Flag) -> Replies:
        reason = (
            f"{flag.what} is disabled on this bridge (start it with {flag.flag} to enable "
            "it). Answer without it, or tell the user what you would run."
        )
        return natives.refusal(event, reason)

    # -- shell --------------------------------------------------------------------------

    async def _shell(self, event: ExecRequested) -> Replies:
        if not self.allow_shell:
            return self._disabled(event, _SHELL)
        cwd = self.resolve(str_arg(event, "working_directory"))
        if event.kind == "pi_bash_args":
            seconds = event.args.get("timeout") or 0
            requested = float(seconds) if isinstance(seconds, int | float) else 0.0
        else:
            requested = int_arg(event, "timeout") / 1000
        timeout = min(requested, self.timeout) if requested > 0 else self.timeout
        outcome = await self.run_command(str_arg(event, "command"), cwd, timeout)
        if outcome is None:
            return natives.shell_spawn_error(event, f"cannot run the command in {cwd}")
        if event.kind == "pi_bash_args":
            text = outcome.stdout + outcome.stderr
            if outcome.timed_out:
                return natives.pi_error(event, f"Timed out after {timeout:g} s.\n{text}")
            if outcome.exit_code != 0:
                return natives.pi_error(event, f"Exit code {outcome.exit_code}\n{text}")
            return natives.pi_success(event, text)
        return natives.shell_reply(event, outcome)

    async def run_command(
        self, command: str, cwd: Path, limit: float
    ) -> natives.ShellOutcome | None:
        """Run `command` with /bin/sh (sandboxed where possible); see shell.py."""
        argv = ["/bin/sh", "-c", command]
        if self.sandbox:
            argv = await asyncio.to_thread(wrap, argv, cwd, self.real_workspace)
        return await run_command(argv, cwd, limit, self.output_cap)
