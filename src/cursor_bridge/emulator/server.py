"""The emulator's server: listening, routing, header and token checks, the unary RPCs.

Routes (POST unless said otherwise):

- `/agent.v1.AgentService/Run`: Connect bidi streaming (`application/connect+proto`), served
  by `RunSession` + the scripted turn player. HTTP/2 only.
- `/agent.v1.AgentService/GetUsableModels`: Connect unary, binary (`application/proto`) or
  JSON (`application/json`).
- `/aiserver.v1.AiService/AvailableModels`: Connect unary, JSON (binary accepted too).
- `/aiserver.v1.ServerConfigService/GetServerConfig`: Connect unary JSON; `agentUrlConfig`
  points back at this server.
- Accounts (plain JSON HTTP, see `auth.py`): GET `/loginDeepControl` (the login page: a visit
  approves the login), GET `/auth/poll`, `/auth/exchange_user_api_key`, `/auth/refresh`,
  `/auth/token`.
- `/aiserver.v1.DashboardService/GetCurrentPeriodUsage`: Connect unary, JSON or binary: the
  caller's spend this period (see `dashboard.py`); POST `/emulator/usage` sets its fault.
- GET `/emulator/counters`: the counters as JSON (for tests in other processes).
- POST `/emulator/clock` `{"advance": SECONDS}`: move the emulator's clock forward (tokens
  expire without waiting); answers `{"now": UNIX_SECONDS}`.

One port serves HTTP/2 (h2c with prior knowledge, or TLS with ALPN h2) and HTTP/1.1 (what a
browser or curl uses; everything except Run).

Header checks as the service makes them: Run needs `application/connect+proto` (else HTTP 415),
a valid access token when auth is on (else end-stream `unauthenticated`; an expired token is
refused as `auth.expired_token_failure` says), and `x-cursor-client-version` (missing:
`invalid_argument`; not `cli-...`: `failed_precondition`, outdated client). Unary calls answer
a bad or expired token with HTTP 401 and a Connect JSON error; unknown paths get HTTP 404
`unimplemented`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
from typing import Any

from ..protocol.errors import ConnectError
from ..protocol.headers import (
    AVAILABLE_MODELS_PATH,
    GET_USABLE_MODELS_PATH,
    RUN_PATH,
    SERVER_CONFIG_PATH,
)
from ..protocol.messages import agent, aiserver
from ..protocol.period_usage import PATH as PERIOD_USAGE_PATH
from .auth import AUTH_PATHS, AuthFailure, AuthService
from .catalog import DEFAULT_MODELS, Catalog
from .connection import ConnectionSettings, H2ServerConnection, ServerStream, StreamHandler
from .counters import EmulatorCounters
from .dashboard import CONTROL_PATH as USAGE_CONTROL_PATH
from .dashboard import PeriodUsageService
from .history import KnownBlobs
from .http1 import Http1Connection, PlainRequest, ProtocolSniffer
from .inject import InjectingSession
from .limits import RunRateLimiter, rate_limited
from .options import EmulatorOptions
from .replay import TraceReplay, open_replay_run
from .run import RunEnvironment, RunSession
from .turn import play_turn
from .unary import (
    MAX_UNARY_BODY,
    Discard,
    UnaryCall,
    UnaryFn,
    UnaryResult,
    encode_unary,
    end_stream_frame,
    parse_unary,
    unary_error,
)

COUNTERS_PATH = "/emulator/counters"
CLOCK_PATH = "/emulator/clock"
RUN_CONTENT_TYPE = "application/connect+proto"


class EmulatorServer:
    """A faithful Cursor backend over HTTP/2 (h2c with prior knowledge, or TLS with ALPN h2),
    with HTTP/1.1 on the same port for everything but Run.

    `ssl_context` gets ALPN `h2` and `http/1.1` set on it. `stop()` closes every connection;
    Runs in flight end (counted as cancelled).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        options: EmulatorOptions | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.options = options or EmulatorOptions()
        self.ssl_context = ssl_context
        if ssl_context is not None:
            ssl_context.set_alpn_protocols(["h2", "http/1.1"])
        self.counters = EmulatorCounters()
        self.auth = AuthService(self.options, self.counters)
        self.limits = RunRateLimiter(
            self.options.run_limit, self.options.run_limit_window, self.auth.now
        )
        self.dashboard = PeriodUsageService(self.options.usage, self.limits.runs, self.auth.now)
        models = self.options.models if self.options.models is not None else DEFAULT_MODELS
        window = self.options.context_window
        if window is not None:  # the catalog advertises the window the Runs enforce
            models = tuple(
                dataclasses.replace(m, context_tokens=window, max_mode_context_tokens=None)
                for m in models
            )
        self.catalog = Catalog(models)
        self._env = RunEnvironment(self.options, self.counters, self.catalog, KnownBlobs())
        self._settings = ConnectionSettings(
            max_concurrent_streams=self.options.max_concurrent_streams,
            close_grace=self.options.close_grace,
        )
        self._server: asyncio.Server | None = None
        self._connections: set[H2ServerConnection] = set()
        self._sockets: set[ProtocolSniffer] = set()
        self._port = 0
        replay = self.options.replay
        self._replay = TraceReplay(replay) if replay is not None else None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection,
            self.host,
            self._requested_port,
            ssl=self.ssl_context,
            backlog=1024,
        )
        self._port = self._server.sockets[0].getsockname()[1]

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self._port}"

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self._connections):
            conn.close()
        for sniffer in list(self._sockets):
            sniffer.close()  # HTTP/1.1 and not-yet-sniffed connections
        tasks = list(self._env.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def wait_runs_settled(self) -> None:
        """Wait until every Run opened so far has ended (`counters.runs_active == 0`)."""
        loop = asyncio.get_running_loop()
        while self.counters.runs_active:
            waiter: asyncio.Future[None] = loop.create_future()
            self._env.outcome_waiters.append(waiter)
            await waiter

    async def serve_forever(self) -> None:
        """Serve until cancelled, then stop."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> EmulatorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _new_connection(self) -> ProtocolSniffer:
        sniffer = ProtocolSniffer(
            self._new_h2_connection, self._new_h1_connection, self._sockets.discard
        )
        self._sockets.add(sniffer)
        return sniffer

    def _new_h2_connection(self) -> H2ServerConnection:
        return H2ServerConnection(self._route, self._settings, self._opened, self._closed)

    def _new_h1_connection(self) -> Http1Connection:
        return Http1Connection(self._plain, MAX_UNARY_BODY, self._h1_request)

    def _h1_request(self) -> None:
        self.counters.http1_requests += 1

    def _opened(self, conn: H2ServerConnection) -> None:
        self.counters.connections += 1
        self._connections.add(conn)

    def _closed(self, conn: H2ServerConnection) -> None:
        self._connections.discard(conn)

    # -- routing ----------------------------------------------------------------------

    def _route(self, stream: ServerStream) -> StreamHandler:
        path, method = stream.path.split("?", 1)[0], stream.method
        if path == RUN_PATH and method == "POST":
            return self._open_run(stream)
        return UnaryCall(stream, self._plain)

    def _plain(self, request: PlainRequest) -> UnaryResult:
        """Every route but Run, whichever HTTP version carried it."""
        path, method = request.path, request.method
        if path == RUN_PATH:
            error = ConnectError("unimplemented", "Run is bidirectional streaming: use HTTP/2")
            return 505, *unary_error(error)[1:]
        if path == COUNTERS_PATH and method == "GET":
            return 200, "application/json", json.dumps(self.counters.as_dict()).encode()
        if path == CLOCK_PATH and method == "POST":
            return self._advance_clock(request.body)
        if path == USAGE_CONTROL_PATH and method == "POST":
            status, answer = self.dashboard.control(request.body)
            return status, "application/json", json.dumps(answer).encode()
        if path in AUTH_PATHS:
            return self.auth.handle(method, path, request.query, request.headers, request.body)
        unary: dict[str, UnaryFn] = {
            GET_USABLE_MODELS_PATH: self._get_usable_models,
            AVAILABLE_MODELS_PATH: self._available_models,
            SERVER_CONFIG_PATH: self._server_config,
            PERIOD_USAGE_PATH: self._period_usage,
        }
        handle = unary.get(path)
        if handle is None:
            return unary_error(ConnectError("unimplemented", f"no procedure {path}"))
        self.counters.unary_calls += 1
        if method != "POST":
            return 405, "application/json", b'{"code":"unimplemented"}'
        failure = self.auth.check_access(request.headers.get("authorization"))
        if failure is not None:
            return unary_error(failure.error, failure.details)
        return handle(request)

    def _advance_clock(self, body: bytes) -> UnaryResult:
        try:
            seconds = float(json.loads(body or b"{}").get("advance", 0))
        except (ValueError, TypeError, AttributeError):
            return unary_error(ConnectError("invalid_argument", 'expected {"advance": SECONDS}'))
        now = self.auth.advance_clock(seconds)
        return 200, "application/json", json.dumps({"now": now}).encode()

    def _open_run(self, stream: ServerStream) -> StreamHandler:
        live_runs = sum(
            isinstance(other.handler, RunSession) and other.handler.outcome is None
            for other in stream.conn.streams.values()
        )
        if live_runs >= self.options.max_runs_per_connection:
            # Cursor's server-side concurrent-Run ceiling: the whole connection goes (§7).
            self.counters.runs_over_connection_ceiling += 1
            stream.conn.close()
            return Discard()
        content_type = stream.headers.get("content-type", "").split(";")[0].strip()
        if content_type != RUN_CONTENT_TYPE:
            self.counters.runs_opened += 1
            self.counters.runs_failed += 1
            self._env.run_ended()
            stream.respond(415, [("accept-post", RUN_CONTENT_TYPE)], end_stream=True)
            return Discard()
        compress = "gzip" in stream.headers.get("connect-accept-encoding", "")
        if self._replay is not None:
            return self._replay_run(stream, compress)
        headers = [("content-type", RUN_CONTENT_TYPE)]
        if compress:
            headers.append(("connect-content-encoding", "gzip"))
        stream.respond(200, headers)
        failure = self.auth.check_access(stream.headers.get("authorization"))
        if failure is None:
            version_error = _check_client_version(stream)
            failure = AuthFailure(version_error) if version_error is not None else None
        if failure is None:
            user = self.auth.subject(stream.headers.get("authorization"))
            refusal = self.dashboard.exhausted(user)
            if refusal is None and (wait := self.limits.admit(user)) is not None:
                refusal = rate_limited(wait)
            if refusal is not None:
                failure = AuthFailure(*refusal)
        if failure is not None:
            self.counters.runs_opened += 1
            self.counters.runs_failed += 1
            self._env.run_ended()
            self.counters.frames_out += 1
            stream.write_nowait(end_stream_frame(failure.error, failure.details))
            stream.finish()
            return Discard()
        return self._new_session(stream, compress)

    def _replay_run(self, stream: ServerStream, compress: bool) -> StreamHandler:
        """A Run that plays the next recorded one (no auth: the recording decides)."""
        assert self._replay is not None
        session = open_replay_run(stream, self._env, self._replay, compress=compress)
        if session is None:
            self.counters.runs_opened += 1
            self.counters.runs_failed += 1
            self._env.run_ended()
            return Discard()
        return session

    def _new_session(self, stream: ServerStream, compress: bool) -> StreamHandler:
        """The Run's handler: the scripted model, with injected surprises if asked."""
        if self.options.inject:
            inject = self.options.inject
            return InjectingSession(stream, self._env, play_turn, compress=compress, inject=inject)
        return RunSession(stream, self._env, play_turn, compress=compress)

    # -- unary RPCs -------------------------------------------------------------------

    def _get_usable_models(self, request: PlainRequest) -> UnaryResult:
        message = agent.GetUsableModelsRequest()
        failure = parse_unary(message, request.content_type, request.body)
        if failure is not None:
            return failure
        return encode_unary(self.catalog.usable_models(), request.content_type)

    def _available_models(self, request: PlainRequest) -> UnaryResult:
        message = aiserver.AvailableModelsRequest()
        failure = parse_unary(message, request.content_type, request.body)
        if failure is not None:
            return failure
        return encode_unary(self.catalog.available_models(), request.content_type)

    def _period_usage(self, request: PlainRequest) -> UnaryResult:
        failure = parse_unary(
            aiserver.GetCurrentPeriodUsageRequest(), request.content_type, request.body
        )
        if failure is not None:
            return failure
        try:
            report = self.dashboard.report(self.auth.subject(request.headers.get("authorization")))
        except ConnectError as exc:
            return unary_error(exc)
        return encode_unary(report, request.content_type)

    def _server_config(self, request: PlainRequest) -> UnaryResult:
        if request.content_type != "application/json":
            return 415, "application/json", b""
        try:
            json.loads(request.body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return unary_error(ConnectError("invalid_argument", "request body is not JSON"))
        scheme = "https" if request.tls else "http"
        base = f"{scheme}://{request.authority}" if request.authority else self.url
        config: dict[str, Any] = {"agentUrlConfig": {"agentnUrl": base, "agentUrl": base}}
        return 200, "application/json", json.dumps(config).encode()


def _check_client_version(stream: ServerStream) -> ConnectError | None:
    version = stream.headers.get("x-cursor-client-version")
    if not version:
        return ConnectError("invalid_argument", "missing x-cursor-client-version header")
    if not version.startswith("cli-"):
        return ConnectError(
            "failed_precondition", "outdated client: please update (ERROR_OUTDATED_CLIENT)"
        )
    return None


async def run_emulator(host: str, port: int, options: EmulatorOptions | None = None) -> None:
    """Serve the emulator until cancelled (the `cursor-bridge emulator` command)."""
    server = EmulatorServer(host, port, options)
    await server.start()
    print(f"Cursor emulator listening on {server.url}", flush=True)
    await server.serve_forever()
