"""Shell: shell_args, shell_stream_args, background_shell_spawn_args, write_shell_stdin_args
— their arguments and results (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..messages import agent
from .rule import ArgsView, NoArgs, Replies, Wire, error_case, reply, view

if TYPE_CHECKING:
    from ..events import ExecRequested

# ShellStreamExit.abort_reason for a timeout (O's value; meaning inferred).
ABORT_REASON_TIMEOUT = 2


@dataclass(frozen=True, slots=True)
class CommandArgs(ArgsView):
    """A command and the directory it runs in ("" = the caller's choice)."""

    command: str = ""
    working_directory: str = ""


@dataclass(frozen=True, slots=True)
class ShellArgs(CommandArgs):
    """shell_args and shell_stream_args; `timeout` in milliseconds, 0 = the default."""

    timeout: int = 0


@dataclass(frozen=True, slots=True)
class BackgroundShellArgs(CommandArgs):
    """background_shell_spawn_args."""

    enable_write_shell_stdin_tool: bool = False


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


def shell_reply(event: ExecRequested, outcome: ShellOutcome) -> Replies:
    """The answer for `shell_args` (one ShellResult) or `shell_stream_args` (a stream)."""
    if event.kind == "shell_stream_args":
        return shell_stream(event, outcome)
    return shell_result(event, outcome)


def shell_result(event: ExecRequested, outcome: ShellOutcome) -> Replies:
    args = view(event, CommandArgs)
    message = reply(event)
    command, cwd = args.command, args.working_directory
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


def shell_stream(event: ExecRequested, outcome: ShellOutcome) -> Replies:
    """start -> stdout -> stderr -> exit, as the CLI streams it (then stream_close)."""
    out: Replies = []
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
    end.shell_stream.exit.cwd = view(event, CommandArgs).working_directory
    if outcome.timed_out:
        end.shell_stream.exit.aborted = True
        end.shell_stream.exit.abort_reason = ABORT_REASON_TIMEOUT
    out.append(end)
    return out


def shell_rejected(event: ExecRequested, reason: str) -> Replies:
    args = view(event, CommandArgs)
    message = reply(event)
    rejected = agent.ShellRejected(
        command=args.command, working_directory=args.working_directory, reason=reason
    )
    if event.kind == "shell_stream_args":
        message.shell_stream.rejected.CopyFrom(rejected)
    elif event.kind == "background_shell_spawn_args":
        message.background_shell_spawn_result.rejected.CopyFrom(rejected)
    else:
        message.shell_result.rejected.CopyFrom(rejected)
    return [message]


def shell_spawn_error(event: ExecRequested, error: str) -> Replies:
    """The command could not be started. A stream reports it as failed output + exit 127."""
    if event.kind == "shell_stream_args":
        return shell_stream(event, ShellOutcome(exit_code=127, stderr=error))
    args = view(event, CommandArgs)
    message = reply(event)
    spawn = message.shell_result.spawn_error
    spawn.command, spawn.working_directory = args.command, args.working_directory
    spawn.error = error
    return [message]


def background_spawn_success(
    event: ExecRequested, *, shell_id: int, pid: int | None = None
) -> Replies:
    args = view(event, CommandArgs)
    message = reply(event)
    success = message.background_shell_spawn_result.success
    success.shell_id = shell_id
    success.command = args.command
    success.working_directory = args.working_directory
    if pid is not None:
        success.pid = pid
    return [message]


def background_spawn_error(event: ExecRequested, error: str) -> Replies:
    args = view(event, CommandArgs)
    message = reply(event)
    failed = message.background_shell_spawn_result.error
    failed.command = args.command
    failed.working_directory = args.working_directory
    failed.error = error
    return [message]


WIRE = (
    Wire("shell_args", ShellArgs, shell_rejected),
    Wire("shell_stream_args", ShellArgs, shell_rejected),
    Wire("background_shell_spawn_args", BackgroundShellArgs, shell_rejected),
    Wire("write_shell_stdin_args", NoArgs, error_case),
)
