"""The `cursor-bridge` command line: `serve`, `emulator`, `config`, `setup` and the account
commands. Known failures end as one line naming the fix (see cli_errors.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import os
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import uvicorn

from . import __version__, logs
from .accounts_cli import login, logout, models, status
from .acp_agent.cli import acp
from .backend_choice import serve_backend
from .cli_errors import PORT_HINT, BridgeGroup
from .config import CONFIG_ENV, Settings, config_path
from .config_cli import config
from .doctor import doctor
from .engine.backend import BackendConfig, CursorBackend
from .home_lock import HomeInUse, own_home
from .invocation import command_name
from .keys_cli import keys
from .live import LiveBackend, open_live_backend
from .mcp_host.cli import config_option, mcp, open_hosted
from .paths import bridge_home
from .protocol.headers import ClientIdentity
from .restrict_cli import restrict
from .server.app import create_app
from .server.client_keys import ClientKeys, ClientKeyStore
from .server.cursor_chat import upstream_from_settings
from .server.guards import Guards
from .server.header_deadline import header_deadline_protocol
from .server.response_store import ResponseStore
from .setup_cli import setup
from .supervisor import supervise, worker_index
from .wiretrace import WireRecorder
from .wiretrace.command import record_options, trace
from .wiretrace.format import TraceError, load_trace

if TYPE_CHECKING:
    from .store.redis_shared import RedisPoolState


@click.group(cls=BridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cursor-bridge")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="FILE",
    help=f"Config file (TOML) to read; default: {CONFIG_ENV} or the platform's config dir.",
)
@click.option("--traceback", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")
def main(config_file: Path | None, traceback: bool) -> None:
    """Serve the models of a Cursor subscription to OpenAI- and Anthropic-speaking clients."""
    if config_file is not None:
        if not config_file.is_file():
            raise click.BadParameter(f"{config_file} does not exist", param_hint="--config")
        # Through the environment, so every Settings() of this process reads it.
        os.environ[CONFIG_ENV] = str(config_file.expanduser().resolve())


main.add_command(login)
main.add_command(status)
main.add_command(logout)
main.add_command(models)
main.add_command(restrict)
main.add_command(config)
main.add_command(setup)
main.add_command(trace)
main.add_command(doctor)
main.add_command(mcp)
main.add_command(acp)
main.add_command(keys)


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
                status = _run_status(supervise(settings, workers, choice.emulator, args))
        except HomeInUse as exc:
            raise click.ClickException(str(exc)) from exc
        sys.exit(status)
    try:
        with _home_lock(), contextlib.suppress(KeyboardInterrupt):
            _run(_serve(settings, choice.emulator, guards, recorder, mcp_config))
    except HomeInUse as exc:
        raise click.ClickException(str(exc)) from exc


def _home_lock() -> contextlib.AbstractContextManager[None]:
    """One serve per home, except the workers of `serve --workers N` (their supervisor
    holds it)."""
    return contextlib.nullcontext() if worker_index() is not None else own_home(bridge_home())


def _guards(settings: Settings, insecure_no_auth: bool) -> Guards:
    """Who may call the bridge; refuses a non-loopback address without client keys."""
    keys = ClientKeys(ClientKeyStore(), [k.get_secret_value() for k in settings.api_keys])
    if not _is_loopback(settings.host) and not keys.required() and not insecure_no_auth:
        raise click.ClickException(
            f"refusing to listen on {settings.host} without client keys: anyone who can reach "
            "it could use your Cursor subscription (and, with --workspace, your files). Create "
            f"a key with `{command_name()} keys create` (or set CURSOR_BRIDGE_API_KEYS), or "
            "pass --insecure-no-auth if the network is yours alone."
        )
    return Guards(
        keys=keys,
        allowed_hosts=tuple(settings.allowed_hosts),
        cors_origins=tuple(settings.cors_origins),
        body_read_timeout=settings.body_read_timeout,
    )


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
        shared = _shared_pool_state(settings)
        live = await open_live_backend(
            settings,
            discover=True,
            pool_state=shared,
            shared_lock=shared.refresh_lock if shared is not None else None,
        )
        backend = live.backend
        backend_label = backend.config.api_url
        if live.account is not None:
            backend_label += f" as {live.account.label}, Runs on {backend.config.agent_url}"
    backend.config.recorder = recorder
    hosted = await open_hosted(mcp_config)
    backend.config.hosted = hosted
    mode = "emulator" if use_emulator else "cursor"
    cursor_chat_upstream = upstream_from_settings(settings)
    store = _response_store(settings)
    sockets, registry = [], None
    if worker_index() is not None and settings.redis:
        # A private port where the other workers forward this one's tool follow-ups.
        from .store.redis_shared import WorkerRegistry

        sockets.append(_bind("127.0.0.1", 0))
        registry = WorkerRegistry(settings.redis)
        await registry.register(settings.instance_id, sockets[0].getsockname()[1])
    app = create_app(
        backend,
        mode=mode,
        cursor_chat_upstream=cursor_chat_upstream,
        response_store=store,
        forward_to=(settings.instance_id, registry.lookup) if registry else None,
        guards=guards,
    )
    sock = _bind(settings.host, settings.port)
    where = f"http://{_url_host(settings.host)}:{sock.getsockname()[1]}"
    click.echo(banner(settings, where, backend_label, cursor_chat_upstream is not None))
    if cursor_chat_upstream is not None:
        click.echo(f"/cursor/chat/completions upstream: {cursor_chat_upstream.label}")
    if hosted is not None:
        ready = sum(s.status == "ready" for s in hosted.stats())
        click.echo(f"hosted MCP servers: {ready} of {len(hosted.connections)} connected")
    sys.stdout.flush()
    # Our own access log (server/access_log.py) replaces uvicorn's; logs.configure() set
    # up the handlers, so uvicorn must not install its own.
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=False,
        log_config=None,
        lifespan="on",
        http=header_deadline_protocol(settings.header_read_timeout),
    )
    server = uvicorn.Server(config)
    _tune_gc()
    try:
        await server.serve(sockets=[sock, *sockets])
    finally:
        if hosted is not None:
            await hosted.aclose()
        if registry is not None:
            await registry.aclose()
        if live is not None and live.usage is not None:
            await live.usage.aclose()
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
    "--inject",
    multiple=True,
    metavar="KIND",
    help="Put this protocol surprise into every Run (repeatable): unknown-field, "
    "unknown-query, end-early, missing-blob.",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Play the server side of a recorded wire trace instead of the scripted model.",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="KEY:NAME",
    help="One more user, logging in with this API key (repeatable).",
)
@click.option("--run-limit", type=int, default=None, help="Runs per user per --run-window.")
@click.option("--run-window", type=float, default=60.0, show_default=True, help="Seconds.")
@click.option("--context-window", type=int, default=None, help="Every model's window (tokens).")
@click.option(
    "--lenient",
    is_flag=True,
    help="Turn off strict mode (history from turns too, content-as-id everywhere).",
)
@click.option("--plan-limit", type=int, default=2000, show_default=True, help="Cents per period.")
@click.option("--run-cost", type=int, default=4, show_default=True, help="Cents per Run.")
@click.option("--on-demand-limit", type=int, default=None, help="On-demand cents allowed.")
@click.option("--enforce-usage", is_flag=True, help="Refuse Runs once the allowance is spent.")
@click.option("--usage-fault", default=None, metavar="CODE", help="GetCurrentPeriodUsage fails.")
def emulator(
    host: str,
    port: int,
    token_latency: float,
    require_auth: bool,
    token_lifetime: float,
    inject: tuple[str, ...],
    replay: Path | None,
    accounts: tuple[str, ...],
    run_limit: int | None,
    run_window: float,
    context_window: int | None,
    lenient: bool,
    plan_limit: int,
    run_cost: int,
    on_demand_limit: int | None,
    enforce_usage: bool,
    usage_fault: str | None,
) -> None:
    """Run the Cursor backend emulator on its own (HTTP/2 cleartext and HTTP/1.1)."""
    from .emulator import EmulatorOptions, run_emulator
    from .emulator.dashboard import UsagePlan
    from .emulator.inject import INJECTIONS
    from .emulator.limits import parse_account
    from .protocol.errors import CONNECT_CODES

    for kind in inject:
        if kind not in INJECTIONS:
            raise click.BadParameter(
                f"{kind!r} is not one of {', '.join(INJECTIONS)}", param_hint="--inject"
            )
    try:
        recorded = load_trace(replay) if replay is not None else None
    except TraceError as exc:
        raise click.ClickException(str(exc)) from None
    if usage_fault is not None and usage_fault not in CONNECT_CODES:
        raise click.BadParameter(
            f"{usage_fault!r} is not a Connect code", param_hint="--usage-fault"
        )
    try:
        users = tuple(parse_account(spec) for spec in accounts)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--account") from None
    options = EmulatorOptions(
        token_latency=token_latency,
        require_auth=require_auth,
        token_lifetime=token_lifetime,
        inject=inject,
        replay=recorded,
        accounts=users,
        run_limit=run_limit,
        run_limit_window=run_window,
        context_window=context_window,
        strict=not lenient,
        usage=UsagePlan(
            plan_limit, run_cost, on_demand_limit, enforce=enforce_usage, fault=usage_fault
        ),
    )
    with contextlib.suppress(KeyboardInterrupt):
        try:
            _run(run_emulator(host, port, options))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {_reason(exc)}") from None


def _response_store(settings: Settings) -> ResponseStore:
    if settings.redis:
        from .server.redis_responses import RedisResponseStore

        return RedisResponseStore(
            settings.redis, settings.response_store_size, settings.response_store_ttl
        )
    return ResponseStore(settings.response_store_size, settings.response_store_ttl)


def _shared_pool_state(settings: Settings) -> RedisPoolState | None:
    if not settings.redis:
        return None
    from .store.redis_shared import RedisPoolState

    return RedisPoolState(settings.redis)


def _run_status(main: Coroutine[Any, Any, int]) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main)
    return 130


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
    Collections are then made rarer (see GC_THRESHOLDS): a turn allocates thousands of
    short-lived objects, and with the start-up objects frozen CPython's default full-pass
    rule (a quarter more long-lived objects) fired every few hundred turns.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# Young collections every 5,000 net allocations (default 700), full ones after 100 middle
# ones (default 10): measured on a 20-loop tool benchmark, GC CPU halved and no full pass
# ran while measuring, where the defaults ran one (about 27 ms, all streams stalled).
GC_THRESHOLDS = (5_000, 10, 100)


def _bind(host: str, port: int) -> socket.socket:
    """Bind before starting so the banner can name the real port (port 0 = any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # protocol says TCP, and without it small SSE writes wait ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if worker_index() is not None:  # one of `serve --workers N`: share the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {_reason(exc)}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.EADDRINUSE:
        return f"the port is already in use. {PORT_HINT}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no such address on this machine. Pass --host 127.0.0.1 (or 0.0.0.0 for all)."
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need root). Pass --port 8787."
    return exc.strerror or str(exc)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


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
