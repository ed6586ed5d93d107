"""`cursor-bridge serve`: the bridge on a port (or N worker processes on one, see
supervisor.py); the object graph itself is built by compose.py."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

import click
import uvicorn

from . import __version__, compose, logs
from .backend_choice import serve_backend
from .config import Settings, config_path
from .home_lock import HomeInUse, own_home
from .invocation import command_name
from .listen import bind, run, run_status, tune_gc, url_host
from .mcp_host.cli import config_option
from .paths import bridge_home
from .server.guards import Guards
from .server.header_deadline import header_deadline_protocol
from .supervisor import supervise, worker_index
from .wiretrace import WireRecorder
from .wiretrace.command import record_options


@click.command()
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
    "--log-format",
    default=None,
    type=click.Choice(["text", "json"]),
    help="Log lines as text (default) or one JSON object per line.",
)
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
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Another Host name clients reach the bridge by (besides localhost and its address).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A web origin (https://app.example) allowed to call the bridge from a browser.",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Listen on a non-loopback address without client keys (anyone who reaches it may "
    "spend the subscription).",
)
@record_options
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes serving the port (more than 1 needs --redis).",
)
@click.option(
    "--redis", "redis_url", default=None, metavar="URL", help="Share state through this Redis."
)
def serve(
    host: str | None,
    port: int | None,
    use_emulator: bool,
    backend_url: str | None,
    client_version: str | None,
    log_level: str | None,
    log_format: str | None,
    workspace: Path | None,
    allow_write: bool | None,
    allow_shell: bool | None,
    allow_hosts: tuple[str, ...],
    cors_origins: tuple[str, ...],
    insecure_no_auth: bool,
    recorder: WireRecorder | None,
    mcp_config: Path | None,
    workers: int,
    redis_url: str | None,
) -> None:
    """Run the bridge: live with the stored Cursor login, else on the built-in emulator."""
    overrides = {
        "host": host,
        "port": port,
        "backend_url": backend_url,
        "client_version": client_version,
        "log_level": log_level,
        "log_format": log_format,
        "workspace": workspace,
        "allow_write": allow_write or None,
        "allow_shell": allow_shell or None,
        "redis_url": redis_url,
    }
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    settings = Settings(**given)
    if allow_hosts or cors_origins:  # flags add to the configured names and origins
        settings = settings.model_copy(
            update={
                "allowed_hosts": [*settings.allowed_hosts, *allow_hosts],
                "cors_origins": [*settings.cors_origins, *cors_origins],
            }
        )
    logs.configure(settings.log_level, settings.log_format)
    choice = serve_backend(settings, use_emulator)
    if choice.emulator and not use_emulator:
        # Cursor's real backend needs a login: without one, serve the emulator and say so.
        click.echo(
            "No Cursor login found: serving the BUILT-IN EMULATOR (scripted model, offline).\n"
            f"Run `{command_name()} login`, then restart `serve`, to use your Cursor "
            "subscription (this process stays on the emulator), or point --backend-url at "
            "another backend.",
            err=True,
        )
    guards = _guards(settings, insecure_no_auth)
    if workers > 1:
        if recorder is not None:
            raise click.ClickException("--record traces one process: use it without --workers")
        if not settings.redis:
            raise click.ClickException(
                f"--workers {workers} needs state shared between the processes: "
                "pass --redis URL (or set CURSOR_BRIDGE_REDIS_URL)"
            )
        args = ["--mcp-config", str(mcp_config)] if mcp_config is not None else []
        if insecure_no_auth:
            args.append("--insecure-no-auth")
        try:
            # The supervisor owns the home; its workers share it (they skip the lock).
            with own_home(bridge_home()):
                status = run_status(supervise(settings, workers, choice.emulator, args))
        except HomeInUse as exc:
            raise click.ClickException(str(exc)) from exc
        sys.exit(status)
    try:
        with _home_lock(), contextlib.suppress(KeyboardInterrupt):
            run(_serve(settings, choice.emulator, guards, recorder, mcp_config))
    except HomeInUse as exc:
        raise click.ClickException(str(exc)) from exc


def _home_lock() -> contextlib.AbstractContextManager[None]:
    """One serve per home, except the workers of `serve --workers N` (their supervisor
    holds it)."""
    return contextlib.nullcontext() if worker_index() is not None else own_home(bridge_home())


def _guards(settings: Settings, insecure_no_auth: bool) -> Guards:
    """Who may call the bridge; refuses a non-loopback address without client keys."""
    guards = compose.guards(settings)
    if not _is_loopback(settings.host) and not guards.keys.required() and not insecure_no_auth:
        raise click.ClickException(
            f"refusing to listen on {settings.host} without client keys: anyone who can reach "
            "it could use your Cursor subscription (and, with --workspace, your files). Create "
            f"a key with `{command_name()} keys create` (or set CURSOR_BRIDGE_API_KEYS), or "
            "pass --insecure-no-auth if the network is yours alone."
        )
    return guards


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


serve.params.append(config_option())


async def _serve(
    settings: Settings,
    use_emulator: bool,
    guards: Guards | None = None,
    recorder: WireRecorder | None = None,
    mcp_config: Path | None = None,
) -> None:
    sockets = []
    if worker_index() is not None and settings.redis:
        # A private port where the other workers forward this one's tool follow-ups.
        sockets.append(bind("127.0.0.1", 0))
    bridge = await compose.build_app(
        settings,
        use_emulator=use_emulator,
        guards=guards,
        recorder=recorder,
        mcp_config=mcp_config,
        follow_up_port=sockets[0].getsockname()[1] if sockets else None,
    )
    try:
        sock = bind(settings.host, settings.port, share=worker_index() is not None)
        where = f"http://{url_host(settings.host)}:{sock.getsockname()[1]}"
        upstream, hosted = bridge.cursor_chat_upstream, bridge.hosted
        click.echo(banner(settings, where, bridge.built.label, upstream is not None))
        if upstream is not None:
            click.echo(f"/cursor/chat/completions upstream: {upstream.label}")
        if hosted is not None:
            ready = sum(s.status == "ready" for s in hosted.stats())
            click.echo(f"hosted MCP servers: {ready} of {len(hosted.connections)} connected")
        sys.stdout.flush()
        # Our own access log (server/access_log.py) replaces uvicorn's; logs.configure() set
        # up the handlers, so uvicorn must not install its own.
        config = uvicorn.Config(
            bridge.app,
            log_level=settings.log_level,
            access_log=False,
            log_config=None,
            lifespan="on",
            http=header_deadline_protocol(settings.header_read_timeout),
            # uvicorn's X-Forwarded-* rewriting of the client address and scheme, which
            # nothing here reads: one layer per request, kept only when asked for.
            proxy_headers="FORWARDED_ALLOW_IPS" in os.environ,
        )
        server = uvicorn.Server(config)
        tune_gc()
        await server.serve(sockets=[sock, *sockets])
    finally:
        await bridge.aclose()


def banner(settings: Settings, where: str, backend_label: str, relayed_ide: bool) -> str:
    """What a user needs to connect a client: base URLs, backend, tool permissions, config."""
    if settings.workspace is None:
        tools = "client tools only (built-in read/write/shell off; --workspace DIR enables them)"
    else:
        extra = [
            name
            for name, on in (("write", settings.allow_write), ("shell", settings.allow_shell))
            if on
        ]
        rights = "read/ls/grep" + "".join(f" + {name}" for name in extra)
        tools = f"client tools, and built-in {rights} inside {settings.workspace}"
    path = config_path()
    lines = [
        f"cursor-bridge {__version__} listening on {where}/v1 (backend: {backend_label})",
        f"  OpenAI-style clients:    base URL {where}/v1",
        f"  Anthropic-style clients: base URL {where}  (Claude Code: ANTHROPIC_BASE_URL)",
        f"  Cursor IDE (BYOK):       {where}/cursor/chat/completions"
        + (" (relayed)" if relayed_ide else ""),
        f"  Tools:  {tools}",
        f"  Config: {path}" + ("" if path.is_file() else " (none; defaults and environment)"),
        f"  Log:    one line per request ({settings.log_format}, level {settings.log_level})",
    ]
    return "\n".join(lines)
