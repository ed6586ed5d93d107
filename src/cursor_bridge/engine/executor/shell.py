"""Shell commands for the model (`--allow-shell`): run, capped, and cleaned up entirely.

A command runs as `/bin/sh -c COMMAND` under the reaper (reaper.py) in a new session, with
a scrubbed environment (SHELL_ENV_KEEP only: the bridge's own may hold credentials), inside
the bubblewrap sandbox where available (sandbox.py). On timeout or cancellation the reaper
is told to stop and kills every process the command started, `setsid` and double-forked
ones included; when the command ends normally, whatever it left running is killed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from ...protocol.exec_kinds.shell import ShellOutcome

REAPER = Path(__file__).with_name("reaper.py")
# Seconds the reaper gets to clean up after being told to stop, before it is killed.
_REAPER_GRACE = 5.0

# The only variables a command inherits: the bridge's own environment may hold credentials.
SHELL_ENV_KEEP = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "TZ")


def shell_environment() -> dict[str, str]:
    """A minimal environment for model-chosen commands (locale and PATH, no secrets)."""
    env = {k: v for k, v in os.environ.items() if k in SHELL_ENV_KEEP or k.startswith("LC_")}
    env.setdefault("PATH", os.defpath)
    return env


async def run_command(
    command: list[str], cwd: Path, limit: float, output_cap: int
) -> ShellOutcome | None:
    """Run *command* (argv, already wrapped by the sandbox if any) under the reaper; None
    when it cannot be started. Output beyond *output_cap* is dropped (and said so)."""
    started = time.monotonic()
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            str(REAPER),
            *command,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=shell_environment(),
        )
    )
    try:
        # Shielded: a cancellation while the pipes connect must still find the process
        # (the command may already be running) and stop it.
        process = await asyncio.shield(spawn)
    except OSError:
        return None
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await _stop(await spawn)
        raise
    assert process.stdout is not None and process.stderr is not None
    reads = asyncio.gather(
        _read_capped(process.stdout, output_cap), _read_capped(process.stderr, output_cap)
    )
    timed_out = False
    try:
        stdout, stderr = await asyncio.wait_for(asyncio.shield(reads), limit)
        await process.wait()
    except TimeoutError:
        timed_out = True
        await _stop(process)
        try:
            stdout, stderr = await asyncio.wait_for(reads, _REAPER_GRACE)
        except TimeoutError:
            stdout, stderr = "", "[output lost: the command's pipes stayed open]"
    except BaseException:
        reads.cancel()
        with contextlib.suppress(BaseException):
            await reads
        with contextlib.suppress(BaseException):
            await asyncio.shield(_stop(process))
        raise
    code = process.returncode if process.returncode is not None else -1
    signal_name = ""
    if code < 0:
        with contextlib.suppress(ValueError):
            signal_name = signal.Signals(-code).name
    return ShellOutcome(
        exit_code=code if code >= 0 else 128 - code,
        stdout=stdout,
        stderr=stderr,
        duration_ms=int((time.monotonic() - started) * 1000),
        timed_out=timed_out,
        timeout_ms=int(limit * 1000),
        signal=signal_name,
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Ask the reaper to kill the command's whole tree; kill its session if it lingers."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), _REAPER_GRACE)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> str:
    """Everything the stream carries, keeping the first `cap` bytes (the rest is drained)."""
    kept = bytearray()
    dropped = 0
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            break
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        dropped += max(0, len(chunk) - max(room, 0))
    text = kept.decode("utf-8", errors="replace")
    if dropped:
        text += f"\n[output truncated: {dropped} more bytes]"
    return text
