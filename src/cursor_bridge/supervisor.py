"""`serve --workers N`: N bridge processes on one port, sharing state through Redis.

Each worker is a plain `cursor-bridge serve` process, told by the environment that it is
worker k: it binds the port with SO_REUSEPORT (the kernel spreads new connections over the
workers) and names itself `w<k>` in the tool-call ids it hands out. This process reserves
the port, starts the workers, prints the banner once all of them listen, restarts a worker
that dies (its held-open Runs are lost; their follow-ups take the fresh-Run path), and stops
them all on Ctrl-C or SIGTERM, or when a worker keeps dying (then it exits non-zero).

Why processes and SO_REUSEPORT rather than uvicorn's own workers: each worker must own its
held-open Runs and upstream connections (nothing of a Run can be pickled across a fork),
and the built-in emulator, when used, must be one backend for all workers: it runs here,
in the supervisor, and the workers are pointed at it. Held-open Runs stay in the process
that started them; a follow-up that lands on another worker is forwarded to the owner
(server/forwarding.py), see README "Several processes".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable

import click

from . import __version__
from .config import Settings
from .listen import bind

WORKER_ENV = "CURSOR_BRIDGE_WORKER_INDEX"
READY_MARK = "listening on "
START_TIMEOUT = 120.0
RESTARTS, RESTART_WINDOW = 5, 60.0


def worker_index() -> int | None:
    """This process's worker index when a supervisor started it, else None."""
    raw = os.environ.get(WORKER_ENV, "")
    return int(raw) if raw.isdigit() else None


def _worker_env(settings: Settings, index: int, port: int, backend_url: str) -> dict[str, str]:
    env = dict(os.environ)
    values: dict[str, object | None] = {
        "HOST": settings.host,
        "PORT": port,
        "BACKEND_URL": backend_url,
        "CLIENT_VERSION": settings.client_version,
        "LOG_LEVEL": settings.log_level,
        "LOG_FORMAT": settings.log_format,
        "WORKSPACE": settings.workspace,
        "ALLOW_WRITE": settings.allow_write or None,
        "ALLOW_SHELL": settings.allow_shell or None,
        "REDIS_URL": settings.redis,
        "INSTANCE_ID": f"{settings.instance_id}w{index}",
        "WORKER_INDEX": index,
    }
    for name, value in values.items():
        if value is not None:
            env[f"CURSOR_BRIDGE_{name}"] = str(value)
    return env


async def supervise(
    settings: Settings, workers: int, use_emulator: bool, worker_args: list[str] | None = None
) -> int:
    """Run *workers* serve processes (each given *worker_args*) until interrupted; returns
    the exit status."""
    from .emulator import EmulatorOptions, EmulatorServer

    emulator: EmulatorServer | None = None
    backend_url = settings.backend_url
    if use_emulator:
        emulator = EmulatorServer(
            "127.0.0.1", 0, EmulatorOptions(token_latency=settings.emulator_token_latency)
        )
        await emulator.start()
        backend_url = emulator.url
    # Bound, not listening: the workers join it (SO_REUSEPORT) and port 0 gets a number.
    reserved = bind(settings.host, settings.port, share=True, listen=False)
    port = reserved.getsockname()[1]
    procs: dict[int, asyncio.subprocess.Process] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def start(index: int) -> bool:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cursor_bridge",
            "serve",
            *(worker_args or []),
            stdout=asyncio.subprocess.PIPE,
            env=_worker_env(settings, index, port, backend_url),
        )
        procs[index] = proc
        try:
            return await asyncio.wait_for(_until_ready(proc), START_TIMEOUT)
        except TimeoutError:
            return False

    try:
        ready = await asyncio.gather(*(start(index) for index in range(workers)))
        if not all(ready):
            click.echo("a worker failed to start; stopping", err=True)
            return 1
        where = f"http://{settings.host}:{port}"
        label = f"built-in emulator at {backend_url}" if use_emulator else backend_url
        click.echo(
            f"cursor-bridge {__version__} listening on {where}/v1 "
            f"({workers} workers, shared state in Redis; backend: {label})"
        )
        sys.stdout.flush()
        keepers = [asyncio.create_task(_keep(i, procs, start, stop)) for i in procs]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *keepers], return_when=asyncio.FIRST_COMPLETED)
        failed = stopper not in done
        stop.set()
        for task in keepers:
            task.cancel()
        await asyncio.gather(*keepers, return_exceptions=True)
        return 1 if failed else 0
    finally:
        await _stop_all(list(procs.values()))
        reserved.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if emulator is not None:
            await emulator.stop()


async def _keep(
    index: int,
    procs: dict[int, asyncio.subprocess.Process],
    start: Callable[[int], Awaitable[bool]],
    stop: asyncio.Event,
) -> None:
    """Relay worker *index*'s output and restart it when it dies, unless it keeps dying
    (more than RESTARTS in RESTART_WINDOW seconds: then return, which stops the bridge)."""
    restarts: list[float] = []
    while True:
        proc = procs[index]
        await _relay(proc)
        code = await proc.wait()
        if stop.is_set():
            return
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < RESTART_WINDOW] + [now]
        if len(restarts) > RESTARTS:
            click.echo(f"worker {index} keeps exiting (last status {code}); stopping", err=True)
            return
        click.echo(f"worker {index} exited with status {code}; restarting it", err=True)
        if not await start(index):
            click.echo(f"worker {index} did not come back; stopping", err=True)
            return


async def _until_ready(proc: asyncio.subprocess.Process) -> bool:
    """Echo the worker's output until its banner; False if it exits first."""
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        text = line.decode(errors="replace")
        if READY_MARK in text:
            return True
        sys.stdout.write(text)
    return False


async def _relay(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        sys.stdout.write(line.decode(errors="replace"))
        sys.stdout.flush()


async def _stop_all(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
