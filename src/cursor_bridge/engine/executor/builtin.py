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

from ...protocol import exec_kinds as wire
from ...protocol.events import ExecRequested
from ...protocol.exec_kinds import Replies, view
from ...protocol.exec_kinds.pi import PiBashArgs, pi_error, pi_success
from ...protocol.exec_kinds.shell import (
    CommandArgs,
    ShellArgs,
    ShellOutcome,
    shell_reply,
    shell_spawn_error,
)
from ..exec_registry import BridgeTool, ExecKind, record_of
from .files import WorkspaceFiles
from .jail import PathJail, PathRejected
from .sandbox import wrap
from .search import WorkspaceSearch
from .shell import run_command

DEFAULT_OUTPUT_CAP = 256 * 1024


@dataclass(frozen=True, slots=True)
class _Flag:
    what: str
    flag: str


_WRITE = _Flag("Writing and deleting files", "--allow-write")
_SHELL = _Flag("Running shell commands", "--allow-shell")
# The executor's tools that change files (the registry names each kind's tool).
_WRITING: frozenset[BridgeTool] = frozenset({"write", "edit", "delete"})


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
        self._blocking: dict[BridgeTool, Callable[[ExecRequested], Replies]] = {
            "read": self.files.read,
            "list": self.files.ls,
            "write": self.files.write,
            "edit": self.files.edit,
            "delete": self.files.delete,
        }

    def resolve(self, raw: str, *, follow_last: bool = True) -> Path:
        return self.jail.resolve(raw, follow_last=follow_last)

    # -- dispatch -----------------------------------------------------------------------

    async def execute(self, event: ExecRequested) -> Replies:
        """The answer to one exec request (the caller sends stream_close after it)."""
        record = record_of(event.kind)
        tool = None if record is None else record.bridge_tool
        if record is None or tool is None:
            return self._refuse(event, record)
        missing = self._missing_switch(tool)
        if missing is not None:
            return self._disabled(event, missing)
        try:
            if tool == "shell":
                return await self._shell(event)
            if tool == "search":
                return await self.search.grep(event)
            return await asyncio.to_thread(self._blocking[tool], event)
        except PathRejected as exc:
            return wire.refusal(event, str(exc))

    def _missing_switch(self, tool: BridgeTool) -> _Flag | None:
        """The switch `tool` needs and this bridge was started without, if any."""
        if tool == "shell" and not self.allow_shell:
            return _SHELL
        if tool in _WRITING and not self.allow_write:
            return _WRITE
        return None

    def _refuse(self, event: ExecRequested, record: ExecKind | None) -> Replies:
        if record is None:
            return []  # `unknown`: the RunMachine already threw
        if record.answer is not None:
            return record.answer(event)
        return wire.refusal(event, record.bridge_refusal)

    def _disabled(self, event: ExecRequested, flag: _Flag) -> Replies:
        reason = (
            f"{flag.what} is disabled on this bridge (start it with {flag.flag} to enable "
            "it). Answer without it, or tell the user what you would run."
        )
        return wire.refusal(event, reason)

    # -- shell --------------------------------------------------------------------------

    async def _shell(self, event: ExecRequested) -> Replies:
        args = view(event, CommandArgs)
        cwd = self.resolve(args.working_directory)
        if isinstance(args, PiBashArgs):
            requested = args.timeout
        else:
            requested = view(event, ShellArgs).timeout / 1000
        timeout = min(requested, self.timeout) if requested > 0 else self.timeout
        outcome = await self.run_command(args.command, cwd, timeout)
        if outcome is None:
            return shell_spawn_error(event, f"cannot run the command in {cwd}")
        if isinstance(args, PiBashArgs):
            text = outcome.stdout + outcome.stderr
            if outcome.timed_out:
                return pi_error(event, f"Timed out after {timeout:g} s.\n{text}")
            if outcome.exit_code != 0:
                return pi_error(event, f"Exit code {outcome.exit_code}\n{text}")
            return pi_success(event, text)
        return shell_reply(event, outcome)

    async def run_command(self, command: str, cwd: Path, limit: float) -> ShellOutcome | None:
        """Run `command` with /bin/sh (sandboxed where possible); see shell.py."""
        argv = ["/bin/sh", "-c", command]
        if self.sandbox:
            argv = await asyncio.to_thread(wrap, argv, cwd, self.real_workspace)
        return await run_command(argv, cwd, limit, self.output_cap)
