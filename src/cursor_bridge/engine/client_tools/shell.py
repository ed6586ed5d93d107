"""shell_args, shell_stream_args, background_shell_spawn_args and pi_bash_args on the
client's shell tool, and the command's outcome back."""

from __future__ import annotations

from ...protocol.events import ExecRequested
from ...protocol.exec_kinds import Replies, view
from ...protocol.exec_kinds.pi import PiBashArgs
from ...protocol.exec_kinds.shell import (
    BackgroundShellArgs,
    ShellArgs,
    ShellOutcome,
    background_spawn_error,
    background_spawn_success,
    shell_reply,
)
from .. import tool_output as out
from ..vocabulary import ClientCall, Toolbox
from .calls import DEFAULT_SHELL_TIMEOUT_MS, ClientOutput, quote, shell_call


def map_shell(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, ShellArgs)
    return shell_call(box, args.command, workdir=args.working_directory, timeout_ms=args.timeout)


def map_background(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, BackgroundShellArgs)
    if args.enable_write_shell_stdin_tool:
        return None  # it would expect to type into the process later; we cannot
    log = f"/tmp/cursor-bridge-bg-{event.exec_id}.log"
    command = f"nohup sh -c {quote(args.command)} > {quote(log)} 2>&1 < /dev/null & echo $!"
    return shell_call(box, command, workdir=args.working_directory, label="Start in background")


def map_pi_bash(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, PiBashArgs)
    return shell_call(box, args.command, timeout_ms=int(args.timeout * 1000))


def shell_result(event: ExecRequested, result: ClientOutput) -> Replies:
    code = result.exit_code if result.exit_code is not None else (1 if result.failed else 0)
    outcome = ShellOutcome(
        exit_code=code,
        stdout=result.text,
        timed_out=result.timed_out and code != 0,
        timeout_ms=view(event, ShellArgs).timeout or DEFAULT_SHELL_TIMEOUT_MS,
    )
    return shell_reply(event, outcome)


def background_result(event: ExecRequested, result: ClientOutput) -> Replies:
    pid = out.last_int(result.text)
    if result.failed or pid is None:
        return background_spawn_error(event, result.text or "could not start")
    return background_spawn_success(event, shell_id=pid, pid=pid)
