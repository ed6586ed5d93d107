"""The composition root: the one place that turns `Settings` into the running object graph.

Every entry point builds through here (`serve` and its `--workers` children, `acp`,
`models`/`status`, the tests' stacks): the state store, the login follower and account
pool, the transport pool, the backend, the hosted MCP servers, the upstream of
`/cursor/chat/completions` and the Starlette app. The packages below take plain
parameters; only this module reads `Settings` for them, so none of them imports `config`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from .auth import Account, AuthClient, AuthEndpoints, TokenStore
from .auth.follow import LatestLoginTokens
from .auth.pool import AccountPool, PoolState
from .auth.pool_members import LoggedInAccounts
from .auth.pool_usage import UsageWatch, backend_usage_fetch
from .auth.provider import SharedLock
from .config import OWN_BACKEND, Settings
from .engine.backend import BackendConfig, CursorBackend
from .engine.context import default_workspace
from .engine.executor import BuiltinExecutor
from .engine.model_map import ModelMap
from .live import discover_agent_url, is_cursor, live_identity
from .mcp_host.cli import open_hosted
from .passthrough import OpenAIUpstream, UpstreamConfig
from .protocol.errors import ConnectError
from .protocol.headers import ClientIdentity
from .server.app import create_app
from .server.client_keys import ClientKeys, ClientKeyStore
from .server.guards import Guards
from .server.response_store import ResponseStore
from .store import StateStore, open_state_store
from .transport import BackendPool

if TYPE_CHECKING:
    from .emulator import EmulatorServer
    from .mcp_host.host import McpHost
    from .store.redis_shared import RedisPoolState, WorkerRegistry
    from .wiretrace import WireRecorder

log = logging.getLogger(__name__)


# -- the parts ----------------------------------------------------------------------------


def state_store(settings: Settings) -> StateStore:
    """The conversation state the settings ask for (Redis, the SQLite file, or memory)."""
    return open_state_store(
        settings.state_path,
        ttl=settings.state_ttl,
        max_bytes=settings.state_max_bytes,
        persist=settings.persist_state,
        redis_url=settings.redis,
    )


def engine_options(settings: Settings) -> dict[str, Any]:
    """The engine's tuning (BackendConfig keywords), the same live and on the emulator."""
    return {
        "heartbeat_interval": settings.heartbeat_interval,
        "idle_timeout": settings.idle_timeout,
        "model_cache_ttl": settings.model_cache_ttl,
        "model_map": ModelMap.parse(settings.model_map),
        "tool_settle": settings.tool_settle,
        "session_idle_timeout": settings.session_idle_timeout,
        "max_parked_sessions": settings.max_parked_sessions,
        "state": state_store(settings),
        "instance_id": settings.instance_id,
        "summarize_threshold": settings.summarize_threshold,
        **_workspace_options(settings),
    }


def _workspace_options(settings: Settings) -> dict[str, Any]:
    if settings.workspace is None:
        return {"workspace": default_workspace()}
    root = settings.workspace.expanduser().resolve()
    executor = BuiltinExecutor(
        root,
        allow_write=settings.allow_write,
        allow_shell=settings.allow_shell,
        timeout=settings.exec_timeout,
        sandbox=settings.exec_sandbox,
    )
    workspace = dataclasses.replace(default_workspace(), path=str(root))
    return {"workspace": workspace, "executor": executor.execute}


def response_store(settings: Settings) -> ResponseStore:
    """Stored `/v1/responses`: in this process, or in Redis when the settings name one."""
    if settings.redis:
        from .server.redis_responses import RedisResponseStore

        return RedisResponseStore(
            settings.redis, settings.response_store_size, settings.response_store_ttl
        )
    return ResponseStore(settings.response_store_size, settings.response_store_ttl)


def shared_pool_state(settings: Settings) -> RedisPoolState | None:
    """Account cooldowns and refresh locks shared through Redis (None: this process only)."""
    if not settings.redis:
        return None
    from .store.redis_shared import RedisPoolState

    return RedisPoolState(settings.redis)


def cursor_chat_upstream(settings: Settings) -> OpenAIUpstream | None:
    """The passthrough upstream of /cursor/chat/completions; None means this bridge's
    backend."""
    if settings.cursor_chat_upstream == OWN_BACKEND:
        return None
    key = settings.cursor_chat_upstream_api_key
    return OpenAIUpstream(
        UpstreamConfig(
            base_url=settings.cursor_chat_upstream,
            api_key=key.get_secret_value() if key else None,
            read_timeout=settings.cursor_chat_upstream_timeout,
        )
    )


def guards(settings: Settings) -> Guards:
    """Who may call the bridge: client keys (stored and configured), Host names, origins."""
    keys = ClientKeys(ClientKeyStore(), [k.get_secret_value() for k in settings.api_keys])
    return Guards(
        keys=keys,
        allowed_hosts=tuple(settings.allowed_hosts),
        cors_origins=tuple(settings.cors_origins),
        body_read_timeout=settings.body_read_timeout,
    )


# -- the backend --------------------------------------------------------------------------


@dataclass
class BuiltBackend:
    """A backend and what it leans on that must be closed after it."""

    backend: CursorBackend
    label: str
    account: Account | None = None
    provider: LatestLoginTokens | None = None
    auth_client: AuthClient | None = None
    emulator: EmulatorServer | None = None
    usage: UsageWatch | None = None  # asks for each account's usage report in the background

    async def aclose(self) -> None:
        if self.usage is not None:
            await self.usage.aclose()
        await self.backend.aclose()
        await self.close_support()

    async def close_support(self) -> None:
        """Close what the backend used, not the backend (the app's lifespan closes that)."""
        if self.usage is not None:
            await self.usage.aclose()
        if self.auth_client is not None:
            await self.auth_client.aclose()
        if self.emulator is not None:
            await self.emulator.stop()


def emulator_backend(settings: Settings, url: str) -> CursorBackend:
    """A backend for the emulator at *url*: no login, the settings' tuning."""
    identity = ClientIdentity(ghost_mode=settings.ghost_mode)
    config = BackendConfig(
        api_url=url, agent_url=url, identity=identity, **engine_options(settings)
    )
    return CursorBackend(config)


async def open_emulator_backend(settings: Settings) -> BuiltBackend:
    """Start the built-in emulator in this process and a backend for it."""
    from .emulator import EmulatorOptions, EmulatorServer

    emulator = EmulatorServer(
        "127.0.0.1", 0, EmulatorOptions(token_latency=settings.emulator_token_latency)
    )
    await emulator.start()
    backend = emulator_backend(settings, emulator.url)
    return BuiltBackend(backend, f"built-in emulator at {emulator.url}", emulator=emulator)


async def open_live_backend(
    settings: Settings,
    *,
    discover: bool,
    pool_state: PoolState | None = None,
    shared_lock: SharedLock | None = None,
    watch_usage: bool = True,
) -> BuiltBackend:
    """A backend for `settings.backend_url` using the accounts logged in there.

    Turns are shared out among every account logged in at that URL (the pool: `pool_state`
    holds shared cooldowns and bindings, `shared_lock` makes one refresh per account across
    processes); account-independent calls use the latest login. Both follow the logins, so
    a `cursor-bridge login` made while serving is used from the next request on, also when
    there was none at start (then no token is sent until one appears: an emulator accepts
    that). `discover`: find the Run host through GetServerConfig unless `settings.agent_url`
    names one. `watch_usage`: ask for each account's usage report now and then
    (auth/pool_usage.py).
    """
    store = TokenStore()
    found = store.current(settings.backend_url)
    api_url = settings.backend_url.rstrip("/")
    if found is None and is_cursor(api_url):
        raise ConnectError("unauthenticated", "not logged in to Cursor")
    # In a thread: finding the client version may read Cursor's installer over the network.
    identity = await asyncio.to_thread(
        live_identity,
        settings.client_version,
        settings.ghost_mode,
        fetch_version=is_cursor(api_url),
    )
    config = BackendConfig(
        api_url=api_url,
        agent_url=settings.agent_url or api_url,
        identity=identity,
        **engine_options(settings),
    )
    client = AuthClient(AuthEndpoints.for_backend(api_url, settings.website_url))
    provider = LatestLoginTokens(
        store, settings.backend_url, client, margin=settings.refresh_margin
    )
    config.token = provider
    config.on_unauthenticated = provider.on_unauthenticated
    logins = LoggedInAccounts(
        store,
        settings.backend_url,
        client,
        margin=settings.refresh_margin,
        shared_lock=shared_lock,
    )
    config.accounts = AccountPool([], pool_state, follow=logins)
    pool = BackendPool()
    if discover and not settings.agent_url:
        token = None
        try:
            token = await config.token()
        except ConnectError as exc:
            log.warning("%s; run `cursor-bridge login`", exc)
        config.agent_url = await discover_agent_url(pool, api_url, token, identity) or api_url
    account = found[1] if found else None
    label = api_url
    if account is not None:
        label += f" as {account.label}, Runs on {config.agent_url}"
    built = BuiltBackend(
        CursorBackend(config, pool), label, account, provider=provider, auth_client=client
    )
    if watch_usage:
        built.usage = UsageWatch(config.accounts, backend_usage_fetch(pool, api_url, identity))
        built.usage.start()
    return built


async def open_backend(
    settings: Settings, *, use_emulator: bool, discover: bool = True, watch_usage: bool = True
) -> BuiltBackend:
    """The built-in emulator's backend, or the live one for `settings.backend_url` (with
    the account pool's state shared through Redis when the settings name one)."""
    if use_emulator:
        return await open_emulator_backend(settings)
    shared = shared_pool_state(settings)
    return await open_live_backend(
        settings,
        discover=discover,
        watch_usage=watch_usage,
        pool_state=shared,
        shared_lock=shared.refresh_lock if shared is not None else None,
    )


# -- the app ------------------------------------------------------------------------------


@dataclass
class BridgeApp:
    """The Starlette app and the parts behind it. The app's lifespan closes the backend and
    the passthrough upstream; `aclose()` closes the rest."""

    app: Starlette
    built: BuiltBackend
    hosted: McpHost | None
    cursor_chat_upstream: OpenAIUpstream | None
    registry: WorkerRegistry | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def backend(self) -> CursorBackend:
        return self.built.backend

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.hosted is not None:
            await self.hosted.aclose()
        if self.registry is not None:
            await self.registry.aclose()
        await self.built.close_support()


async def build_app(
    settings: Settings,
    *,
    use_emulator: bool = False,
    guards: Guards | None = None,
    recorder: WireRecorder | None = None,
    mcp_config: Path | None = None,
    follow_up_port: int | None = None,
) -> BridgeApp:
    """The whole bridge for *settings*: backend (the built-in emulator's when
    `use_emulator`), hosted MCP servers (`mcp_config`, else the default file), the
    `/cursor/chat/completions` upstream, stored responses and the app. `follow_up_port`:
    this worker of `serve --workers N` takes tool follow-ups forwarded by the others there
    (registered through Redis)."""
    built = await open_backend(settings, use_emulator=use_emulator)
    backend = built.backend
    backend.config.recorder = recorder
    try:
        hosted = await open_hosted(mcp_config)
    except BaseException:
        await built.aclose()
        raise
    backend.config.hosted = hosted
    registry = None
    if follow_up_port is not None and settings.redis:
        from .store.redis_shared import WorkerRegistry

        registry = WorkerRegistry(settings.redis)
        await registry.register(settings.instance_id, follow_up_port)
    upstream = cursor_chat_upstream(settings)
    app = create_app(
        backend,
        mode="emulator" if use_emulator else "cursor",
        cursor_chat_upstream=upstream,
        response_store=response_store(settings),
        forward_to=(settings.instance_id, registry.lookup) if registry else None,
        guards=guards,
    )
    return BridgeApp(app, built, hosted, upstream, registry)
