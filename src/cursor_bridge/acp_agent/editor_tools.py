"""Cursor's built-in exec requests answered through the editor (ACP client capabilities).

The model asks for reads, writes, deletes, listings, searches and shell commands as exec
requests; in ACP mode the editor owns the files and the terminals, so:

- read   -> `fs/read_text_file` (the editor's view, unsaved buffers included);
- write  -> a permission request showing the diff, then `fs/write_text_file`;
- shell  -> a permission request, then `terminal/create` (`sh -c COMMAND`),
            `terminal/wait_for_exit`, `terminal/output`, `terminal/release`;
- delete -> a permission request, then `rm -- PATH` in an editor terminal (ACP has no
            delete method);
- ls, grep -> read-only, on the local disk inside the session's folders (ACP has no listing
            or search method; the agent runs beside the editor);
- everything else -> refused with a reason the model can act on.

Every call is shown to the editor as a tool call (`session/update` tool_call, then
tool_call_update with its status and output). Paths must stay inside the session's folders.
The session's mode decides about permissions: `ask` (default), `auto` (no prompts) or
`read-only` (no writes, no commands).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from acp import Client, RequestError
from acp.helpers import (
    start_tool_call,
    text_block,
    tool_content,
    tool_diff_content,
    tool_terminal_ref,
    update_tool_call,
)
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    PermissionOption,
    ToolCallLocation,
    ToolCallUpdate,
    ToolKind,
)

from ..engine.executor import BuiltinExecutor
from ..protocol import exec_kinds
from ..protocol.events import ExecRequested
from ..protocol.exec_kinds.files import (
    ReadArgs,
    WriteArgs,
    delete_error,
    delete_not_found,
    delete_rejected,
    delete_success,
    read_error,
    read_not_found,
    read_rejected,
    read_success,
    write_error,
    write_rejected,
    write_success,
)
from ..protocol.exec_kinds.shell import ShellArgs, ShellOutcome, shell_rejected, shell_reply
from ..protocol.messages import agent

Mode = Literal["ask", "auto", "read-only"]
MODES: dict[str, str] = {
    "ask": "Ask before editing files or running commands",
    "auto": "Edit files and run commands without asking",
    "read-only": "Read and search only: no edits, no commands",
}
DEFAULT_SHELL_TIMEOUT = 120.0
OUTPUT_LIMIT = 256 * 1024
_SEARCH_KINDS = ("ls_args", "grep_args")
_SHELL_KINDS = ("shell_args", "shell_stream_args")
_OPTIONS = [
    PermissionOption(option_id="allow", name="Allow", kind="allow_once"),
    PermissionOption(option_id="allow_always", name="Always allow", kind="allow_always"),
    PermissionOption(option_id="reject", name="Reject", kind="reject_once"),
]


@dataclass
class EditorTools:
    """The exec answers for one ACP session (see the module docstring)."""

    client: Client
    session_id: str
    roots: Sequence[str]
    capabilities: ClientCapabilities
    mode: Mode = "ask"
    always_allowed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._local = BuiltinExecutor(Path(self.roots[0]))

    async def execute(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        kind = event.kind
        call_id = event.tool_call_id or f"exec-{event.exec_id}"
        try:
            if kind == "read_args":
                return await self._read(event, call_id)
            if kind == "write_args":
                return await self._write(event, call_id)
            if kind in _SHELL_KINDS:
                return await self._shell(event, call_id)
            if kind in _SEARCH_KINDS:
                return await self._search(event, call_id)
            if kind == "delete_args":
                return await self._delete(event, call_id)
        except _Outside as exc:
            return exec_kinds.refusal(event, str(exc))
        return await self._local.execute(event)  # refusals and internal answers only

    # -- files --------------------------------------------------------------------------

    async def _read(self, event: ExecRequested, call_id: str) -> list[agent.ExecClientMessage]:
        path = self._path(event)
        fs = self.capabilities.fs
        if fs is None or not fs.read_text_file:
            return read_rejected(event, "The editor does not offer file reads.")
        await self._start(call_id, f"Read {path}", "read", path, event.args)
        range_ = exec_kinds.view(event, ReadArgs)
        offset, limit = range_.offset, range_.limit
        try:
            response = await self.client.read_text_file(
                session_id=self.session_id, path=path, line=offset or None, limit=limit or None
            )
        except RequestError as exc:
            await self._finish(call_id, "failed", str(exc))
            if _missing(exc):
                return read_not_found(event)
            return read_error(event, f"The editor could not read {path}: {exc}")
        await self._finish(call_id, "completed", response.content)
        return read_success(event, response.content)

    async def _write(self, event: ExecRequested, call_id: str) -> list[agent.ExecClientMessage]:
        path = self._path(event)
        content = exec_kinds.view(event, WriteArgs).content()
        fs = self.capabilities.fs
        if content is None:
            return write_rejected(event, "Only text files can be written here.")
        if fs is None or not fs.write_text_file:
            return write_rejected(event, "The editor does not offer file writes.")
        if self.mode == "read-only":
            return write_rejected(event, _read_only("Editing files"))
        old = await self._current_text(path)
        diff = tool_diff_content(path, content, old)
        await self._start(call_id, f"Edit {path}", "edit", path, event.args, [diff])
        if not await self._permitted(call_id, "edit", f"Edit {path}", [diff]):
            await self._finish(call_id, "failed", "The user declined this edit.")
            return write_rejected(event, "The user declined this edit.")
        try:
            await self.client.write_text_file(
                session_id=self.session_id, path=path, content=content
            )
        except RequestError as exc:
            await self._finish(call_id, "failed", str(exc))
            return write_error(event, f"The editor could not write {path}: {exc}")
        await self._finish(call_id, "completed", None)
        return write_success(event, content)

    async def _current_text(self, path: str) -> str | None:
        fs = self.capabilities.fs
        if fs is None or not fs.read_text_file:
            return None
        try:
            response = await self.client.read_text_file(session_id=self.session_id, path=path)
        except RequestError:
            return None
        return response.content

    # -- shell --------------------------------------------------------------------------

    async def _shell(self, event: ExecRequested, call_id: str) -> list[agent.ExecClientMessage]:
        command = exec_kinds.view(event, ShellArgs).command
        cwd = self._path(event, "working_directory", default=self.roots[0])
        if not self.capabilities.terminal:
            return shell_rejected(event, "The editor offers no terminal to run commands.")
        if self.mode == "read-only":
            return shell_rejected(event, _read_only("Running commands"))
        title = f"Run `{command}`"
        await self._start(call_id, title, "execute", cwd, event.args)
        if not await self._permitted(call_id, "execute", title, None):
            await self._finish(call_id, "failed", "The user declined this command.")
            return shell_rejected(event, "The user declined to run this command.")
        timeout_ms = exec_kinds.view(event, ShellArgs).timeout
        timeout = timeout_ms / 1000 if timeout_ms > 0 else DEFAULT_SHELL_TIMEOUT
        outcome = await self._terminal(call_id, ["/bin/sh", "-c", command], cwd, timeout)
        ok = outcome.exit_code == 0 and not outcome.timed_out
        await self._finish(call_id, "completed" if ok else "failed", None)
        return shell_reply(event, outcome)

    async def _delete(self, event: ExecRequested, call_id: str) -> list[agent.ExecClientMessage]:
        """ACP has no delete method: `rm -- PATH` in an editor terminal, after permission."""
        path = self._path(event)
        if not self.capabilities.terminal:
            return delete_rejected(event, "The editor offers no way to delete files.")
        if self.mode == "read-only":
            return delete_rejected(event, _read_only("Deleting files"))
        old = await self._current_text(path)
        diff = [tool_diff_content(path, "", old)] if old is not None else None
        title = f"Delete {path}"
        await self._start(call_id, title, "delete", path, event.args, diff)
        if not await self._permitted(call_id, "delete", title, diff):
            await self._finish(call_id, "failed", "The user declined this deletion.")
            return delete_rejected(event, "The user declined to delete this file.")
        parent = os.path.dirname(path) or self.roots[0]
        outcome = await self._terminal(call_id, ["rm", "--", path], parent, DEFAULT_SHELL_TIMEOUT)
        if outcome.exit_code != 0 or outcome.timed_out:
            await self._finish(call_id, "failed", outcome.stdout)
            if "no such file" in outcome.stdout.lower():
                return delete_not_found(event)
            return delete_error(event, outcome.stdout.strip() or "rm failed")
        await self._finish(call_id, "completed", None)
        return delete_success(event, prev_content=old or "")

    async def _terminal(
        self, call_id: str, argv: list[str], cwd: str, limit: float
    ) -> ShellOutcome:
        """Run *argv* in an editor terminal shown in the tool call; kill it after *limit* s."""
        terminal = await self.client.create_terminal(
            session_id=self.session_id,
            command=argv[0],
            args=argv[1:],
            cwd=cwd,
            output_byte_limit=OUTPUT_LIMIT,
        )
        terminal_id = terminal.terminal_id
        await self._update(call_id, content=[tool_terminal_ref(terminal_id)])
        began = asyncio.get_running_loop().time()
        exited = None
        try:
            try:
                async with asyncio.timeout(limit):
                    exited = await self.client.wait_for_terminal_exit(
                        session_id=self.session_id, terminal_id=terminal_id
                    )
            except TimeoutError:
                with contextlib.suppress(RequestError):
                    await self.client.kill_terminal(
                        session_id=self.session_id, terminal_id=terminal_id
                    )
            output = await self.client.terminal_output(
                session_id=self.session_id, terminal_id=terminal_id
            )
        finally:
            with contextlib.suppress(RequestError, ConnectionError):
                await self.client.release_terminal(
                    session_id=self.session_id, terminal_id=terminal_id
                )
        timed_out = exited is None
        code = exited.exit_code if exited is not None and exited.exit_code is not None else 1
        return ShellOutcome(
            exit_code=0 if timed_out else code,
            stdout=output.output,
            duration_ms=int((asyncio.get_running_loop().time() - began) * 1000),
            timed_out=timed_out,
            timeout_ms=int(limit * 1000),
            signal=(exited.signal or "") if exited is not None else "",
        )

    # -- ls / grep ----------------------------------------------------------------------

    async def _search(self, event: ExecRequested, call_id: str) -> list[agent.ExecClientMessage]:
        path = self._path(event, default=self.roots[0])
        verb = "List" if event.kind == "ls_args" else "Search"
        await self._start(call_id, f"{verb} {path}", "search", path, event.args)
        executor = BuiltinExecutor(Path(self._root_of(path)))
        answer = await executor.execute(event)
        await self._finish(call_id, "completed", None)
        return answer

    # -- editor updates -----------------------------------------------------------------

    async def _start(
        self,
        call_id: str,
        title: str,
        kind: ToolKind,
        path: str,
        raw_input: dict[str, Any],
        content: list[Any] | None = None,
    ) -> None:
        update = start_tool_call(
            call_id,
            title,
            kind=kind,
            status="in_progress",
            content=content,
            locations=[ToolCallLocation(path=path)],
            raw_input=raw_input,
        )
        await self.client.session_update(session_id=self.session_id, update=update)

    async def _update(self, call_id: str, **fields: Any) -> None:
        update = update_tool_call(call_id, **fields)
        await self.client.session_update(session_id=self.session_id, update=update)

    async def _finish(
        self, call_id: str, status: Literal["completed", "failed"], text: str | None
    ) -> None:
        content = [tool_content(text_block(text[:4000]))] if text else None
        await self._update(call_id, status=status, content=content)

    async def _permitted(
        self, call_id: str, kind: ToolKind, title: str, content: list[Any] | None
    ) -> bool:
        if self.mode == "auto" or kind in self.always_allowed:
            return True
        response = await self.client.request_permission(
            session_id=self.session_id,
            tool_call=ToolCallUpdate(
                tool_call_id=call_id, title=title, kind=kind, status="pending", content=content
            ),
            options=_OPTIONS,
        )
        outcome = response.outcome
        if not isinstance(outcome, AllowedOutcome) or outcome.option_id == "reject":
            return False
        if outcome.option_id == "allow_always":
            self.always_allowed.add(kind)
        return True

    # -- paths --------------------------------------------------------------------------

    def _path(self, event: ExecRequested, key: str = "path", default: str = "") -> str:
        raw = str(event.args.get(key) or default)
        if not raw:
            raise _Outside("A path is required.")
        path = os.path.normpath(os.path.join(self.roots[0], raw))
        self._root_of(path)
        return path

    def _root_of(self, path: str) -> str:
        for root in self.roots:
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return root
        raise _Outside(
            f"{path} is outside the session's folders ({', '.join(self.roots)}); only paths "
            "inside them can be used."
        )


class _Outside(Exception):
    """A path outside the session's folders."""


def _missing(exc: RequestError) -> bool:
    text = f"{exc} {getattr(exc, 'data', '')}".lower()
    return "not found" in text or "no such file" in text or "enoent" in text


def _read_only(what: str) -> str:
    return f"{what} is disabled in this session's read-only mode; tell the user what you would do."
