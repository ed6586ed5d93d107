"""The `cursor-bridge` command line: `serve`, `emulator` and the account commands."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click
import uvicorn
from pydantic import ValidationError

from . import __version__
from .accounts_cli import login, logout, models, status
from .auth import TokenStore
from .config import Settings
from .engine.backend import BackendConfig, CursorBackend
from .engine.model_map import ModelMap
from .live import LiveBackend, is_cursor, open_live_backend
from .protocol.headers import ClientIdentity
from .server.app import create_app
from .server.cursor_chat import upstream_from_settings
from .server.response_store import ResponseStore


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cursor-bridge")
def main() -> None:
    """Serve the models of a Cursor subscription to OpenAI- and Anthropic-speaking clients."""


main.add_command(login)
main.add_command(status)
main.add_command(logout)
main.add_command(models)


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8787).")
@click.option("--emulator", "use_emulator", is_flag=True, help="Serve the built-in emulator.")
@click.option(
    "--backend-url",
    default=None,
    metavar="URL",
    help="Cursor API to use (default: Cursor's real one; an emulator URL to practise).",
)
@click.option(
    "--client-version", default=None, help="x-cursor-client-version to send (cli-YYYY.MM.DD-sha)."
)
@click.option("--log-level", default=None, type=click.Choice(["debug", "info", "warning"]))
@click.option(
    "--workspace",
    default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Run Cursor's built-in read/ls/grep for requests without tools, inside DIR only.",
)
@click.option(
    "--allow-write", is_flag=True, default=None, help="With --workspace: also write/delete."
)
@click.option("--allow-shell", is_flag=True, default=None, help="With --workspace: also shell.")
def serve(
    host: str | None,
    port: int | None,
    use_emulator: bool,
    backend_url: str | None,
    client_version: str | None,
    log_level: str | None,
    workspace: Path | None,
    allow_write: bool | None,
    allow_shell: bool | None,
) -> None:
    """Run the bridge: live with the stored Cursor login, else on the built-in emulator."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CURSOR_BRIDGE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise click.ClickException(f"invalid settings: {problems}") from exc
    overrides = {
        "host": host,
        "port": port,
        "backend_url": backend_url,
        "client_version": client_version,
        "log_level": log_level,
        "workspace": workspace,
        "allow_write": allow_write or None,
        "allow_shell": allow_shell or None,
    }
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    try:
        ModelMap.parse(settings.model_map)
    except ValueError as exc:
        raise click.ClickException(f"CURSOR_BRIDGE_MODEL_MAP: {exc}") from exc
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    logged_in = TokenStore().current(settings.backend_url) is not None
    if not use_emulator and not logged_in and is_cursor(settings.backend_url):
        # Cursor's real backend needs a login: without one, serve the emulator and say so.
        click.echo(
            "No Cursor login found: serving the BUILT-IN EMULATOR (scripted model, offline).\n"
            "Run `cursor-bridge login`, then restart `serve`, to use your Cursor subscription "
            "(this process stays on the emulator), or point --backend-url at another backend.",
            err=True,
        )
        use_emulator = True
    with contextlib.suppress(KeyboardInterrupt):
        _run(_serve(settings, use_emulator))


async def _serve(settings: Settings, use_emulator: bool) -> None:
    from .emulator import EmulatorOptions, EmulatorServer

    emulator: EmulatorServer | None = None
    live: LiveBackend | None = None
    if use_emulator:
        options = EmulatorOptions(token_latency=settings.emulator_token_latency)
        emulator = EmulatorServer("127.0.0.1", 0, options)
        await emulator.start()
        identity = ClientIdentity(ghost_mode=settings.ghost_mode)
        backend = CursorBackend(
            BackendConfig(
                api_url=emulator.url,
                agent_url=emulator.url,
                identity=identity,
                **settings.backend_options(),
            )
        )
        backend_label = f"built-in emulator at {emulator.url}"
    else:
        live = await open_live_backend(settings, discover=True)
        backend = live.backend
        backend_label = backend.config.api_url
        if live.account is not None:
            backend_label += f" as {live.account.label}, Runs on {backend.config.agent_url}"
    mode = "emulator" if use_emulator else "cursor"
    cursor_chat_upstream = upstream_from_settings(settings)
    store = ResponseStore(settings.response_store_size, settings.response_store_ttl)
    app = create_app(
        backend, mode=mode, cursor_chat_upstream=cursor_chat_upstream, response_store=store
    )
    sock = _bind(settings.host, settings.port)
    where = f"http://{settings.host}:{sock.getsockname()[1]}"
    click.echo(f"cursor-bridge {__version__} listening on {where}/v1 (backend: {backend_label})")
    if cursor_chat_upstream is not None:
        click.echo(f"/cursor/chat/completions upstream: {cursor_chat_upstream.label}")
    sys.stdout.flush()
    config = uvicorn.Config(
        app, log_level=settings.log_level, access_log=settings.log_level == "debug", lifespan="on"
    )
    server = uvicorn.Server(config)
    _tune_gc()
    try:
        await server.serve(sockets=[sock])
    finally:
        if live is not None and live.auth_client is not None:
            await live.auth_client.aclose()
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
@click.option("--require-auth", is_flag=True, help="Refuse requests without a valid login.")
@click.option(
    "--token-lifetime",
    type=float,
    default=3600.0,
    show_default=True,
    help="Seconds an access token it issues lives.",
)
@click.option(
    "--lenient",
    is_flag=True,
    help="Turn off strict mode (history from turns too, content-as-id everywhere).",
)
def emulator(
    host: str,
    port: int,
    token_latency: float,
    require_auth: bool,
    token_lifetime: float,
    lenient: bool,
) -> None:
    """Run the Cursor backend emulator on its own (HTTP/2 cleartext and HTTP/1.1)."""
    from .emulator import EmulatorOptions, run_emulator

    options = EmulatorOptions(
        token_latency=token_latency,
        require_auth=require_auth,
        token_lifetime=token_lifetime,
        strict=not lenient,
    )
    with contextlib.suppress(KeyboardInterrupt):
        _run(run_emulator(host, port, options))


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
