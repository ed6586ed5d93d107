"""The `cursor-bridge` command line: `serve` and `emulator`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import sys
from collections.abc import Coroutine
from typing import Any

import click
import uvicorn

from . import __version__
from .config import CURSOR_API_URL, Settings
from .engine.backend import BackendConfig, CursorBackend
from .protocol.headers import ClientIdentity
from .server.app import create_app


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cursor-bridge")
def main() -> None:
    """Serve the models of a Cursor subscription to OpenAI- and Anthropic-speaking clients."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8787).")
@click.option("--emulator", "use_emulator", is_flag=True, help="Serve the built-in emulator.")
@click.option("--backend-url", default=None, help="Backend base URL (default: Cursor's).")
@click.option("--log-level", default=None, type=click.Choice(["debug", "info", "warning"]))
def serve(
    host: str | None,
    port: int | None,
    use_emulator: bool,
    backend_url: str | None,
    log_level: str | None,
) -> None:
    """Run the bridge (on the built-in emulator when no Cursor login exists)."""
    settings = Settings()
    overrides = {"host": host, "port": port, "backend_url": backend_url, "log_level": log_level}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    if not use_emulator and settings.backend_url == CURSOR_API_URL:
        # Accounts (login, tokens) are not part of this build yet: without them the real
        # backend cannot be used, so fall back to the emulator and say so.
        click.echo(
            "No Cursor login found: serving the BUILT-IN EMULATOR (scripted model, offline).\n"
            "Point --backend-url at a backend to use another one.",
            err=True,
        )
        use_emulator = True
    with contextlib.suppress(KeyboardInterrupt):
        _run(_serve(settings, use_emulator))


async def _serve(settings: Settings, use_emulator: bool) -> None:
    from .emulator import EmulatorOptions, EmulatorServer

    emulator: EmulatorServer | None = None
    backend_url = settings.backend_url
    if use_emulator:
        options = EmulatorOptions(token_latency=settings.emulator_token_latency)
        emulator = EmulatorServer("127.0.0.1", 0, options)
        await emulator.start()
        backend_url = emulator.url
    identity = ClientIdentity(
        client_version=settings.client_version, ghost_mode=settings.ghost_mode
    )
    backend = CursorBackend(
        BackendConfig(
            api_url=backend_url,
            agent_url=settings.agent_url or backend_url,
            identity=identity,
            heartbeat_interval=settings.heartbeat_interval,
            idle_timeout=settings.idle_timeout,
            model_cache_ttl=settings.model_cache_ttl,
        )
    )
    mode = "emulator" if use_emulator else "cursor"
    app = create_app(backend, mode=mode)
    sock = _bind(settings.host, settings.port)
    where = f"http://{settings.host}:{sock.getsockname()[1]}"
    backend_label = f"built-in emulator at {backend_url}" if use_emulator else backend_url
    click.echo(f"cursor-bridge {__version__} listening on {where}/v1 (backend: {backend_label})")
    sys.stdout.flush()
    config = uvicorn.Config(
        app, log_level=settings.log_level, access_log=settings.log_level == "debug", lifespan="on"
    )
    server = uvicorn.Server(config)
    _tune_gc()
    try:
        await server.serve(sockets=[sock])
    finally:
        if emulator is not None:
            await emulator.stop()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8790, show_default=True)
@click.option(
    "--token-latency",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds between streamed words (0 = line rate; 0.02 = a model typing 50 words/s).",
)
def emulator(host: str, port: int, token_latency: float) -> None:
    """Run the Cursor backend emulator on its own (HTTP/2 cleartext)."""
    from .emulator import EmulatorOptions, run_emulator

    with contextlib.suppress(KeyboardInterrupt):
        _run(run_emulator(host, port, EmulatorOptions(token_latency=token_latency)))


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (it is with uvicorn[standard]), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _tune_gc() -> None:
    """Keep start-up objects out of garbage-collector passes (shorter pauses while streaming).

    The modules, app and catalogs loaded at start-up are about half the tracked objects and
    never become garbage, yet every full collection walked them: measured at 200 streams,
    full passes took 25-30 ms of CPU and stalled every stream; frozen, about half that.
    """
    gc.collect()
    gc.freeze()


def _bind(host: str, port: int) -> socket.socket:
    """Bind before starting so the banner can name the real port (port 0 = any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # protocol says TCP, and without it small SSE writes wait ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
