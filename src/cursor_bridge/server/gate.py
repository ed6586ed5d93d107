"""The one ASGI layer in front of the routes: every request's checks, in order, in one call.

Each request passes, outermost first: its access record (access_log.py), the Host check
(DNS rebinding), CORS for explicitly allowed origins only (answers their preflights), the
Origin check (other web pages), client keys, the declared body size, the JSON-only rule,
the body read within its limits (size, read deadline), the follow-up forwarder of `serve
--workers N`, and the caller's key restriction (account_headers.py). Each check is its own
concept in its own module and answers with a Refusal in the caller's dialect; here they are
plain calls rather than a stack of middleware, so a request costs one layer, and `send` is
wrapped once (StampedSend: the status, the model and account headers on the response's
start; an event stream writes its body past it).

A request for a route without path parameters is answered here directly (its endpoint, with
the app's error handlers); any other goes to the app (Starlette's router). A request with a
body is answered under one disconnect watcher (disconnect.py): a client that goes away
cancels its turn.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import access
from .access_log import close_record, model_header, open_record
from .account_headers import AccountHeaders
from .client_auth import ClientAuth
from .disconnect import serve_until_disconnect
from .errors import Refusal
from .forwarding import FollowUpForwarder, replay
from .guards import Guards
from .host_check import HostCheck
from .json_only import BODY_METHODS, json_only_refusal
from .limits import BODY_COMPLETE, BodyLimits, BodyRefused, ClientGone
from .origin_check import OriginCheck
from .request_log import RequestLog

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def direct_routes(routes: Sequence[object]) -> dict[str, dict[str, Endpoint]]:
    """path -> method -> endpoint, for the routes a request can reach without the router
    (plain function endpoints, no path parameters). HEAD is left to the router."""
    table: dict[str, dict[str, Endpoint]] = {}
    for route in routes:
        if not isinstance(route, Route) or route.param_convertors or not route.methods:
            continue
        if not (inspect.isfunction(route.endpoint) or inspect.ismethod(route.endpoint)):
            continue  # an ASGI app or endpoint class: the router knows how to call it
        methods = table.setdefault(route.path, {})
        for method in route.methods - {"HEAD"}:
            methods.setdefault(method, route.endpoint)
    return table


class Gate:
    """See module doc. `app`: what answers requests not answered here; `routes`: the
    routes answered here (direct_routes), with `error_handlers` (the app's, by exception
    class) for what they raise."""

    def __init__(
        self,
        app: ASGIApp,
        guards: Guards,
        *,
        requests: RequestLog | None = None,
        accounts: AccountHeaders | None = None,
        forwarder: FollowUpForwarder | None = None,
        routes: Mapping[str, Mapping[str, Endpoint]] | None = None,
        error_handlers: Mapping[type[Exception], ErrorHandler] | None = None,
    ) -> None:
        self.app = app
        self.host = HostCheck(guards.allowed_hosts)
        self.origin = OriginCheck(guards.cors_origins)
        self.auth = ClientAuth(guards.keys)
        self.limits = BodyLimits(guards.max_body_size, guards.body_read_timeout)
        self.cors: ASGIApp | None = None
        if guards.cors_origins:
            self.cors = CORSMiddleware(
                self._after_cors,
                allow_origins=list(guards.cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["*"],
            )
        self.requests = requests
        self.accounts = accounts
        self.forwarder = forwarder
        self.routes = routes or {}
        self.error_handlers = dict(error_handlers or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = open_record(scope)
        stamped = StampedSend(send, record, self.accounts)
        try:
            headers = dict(scope["headers"])
            if refusal := self.host.refusal(scope, headers):
                await self._refuse(refusal, scope, receive, stamped)
            elif self.cors is not None and b"origin" in headers:
                await self.cors(scope, receive, stamped)
            else:
                await self._checked(scope, receive, stamped, headers, record)
        except BaseException:
            if not record.status:
                record.status = 500
            raise
        finally:
            close_record(record, self.requests)

    async def _after_cors(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = access.current()
        assert record is not None
        await self._checked(scope, receive, send, dict(scope["headers"]), record)

    async def _checked(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        record: access.AccessRecord,
    ) -> None:
        refusal = (
            self.origin.refusal(scope, headers)
            or self.auth.refusal(scope, headers)
            or self.limits.declared_refusal(headers)
            or json_only_refusal(scope, headers)
        )
        if refusal is not None:
            await self._refuse(refusal, scope, receive, send)
            return
        if self.accounts is not None:
            self.accounts.note_caller(scope, record)
        if scope["method"] not in BODY_METHODS:
            await self._dispatch(scope, receive, send)
            return
        try:
            body = await self.limits.read(receive, scope.get(BODY_COMPLETE))
        except BodyRefused as exc:
            await self._refuse(exc.refusal, scope, receive, send)
            return
        except ClientGone:
            return
        forwarder = self.forwarder
        if (
            forwarder is not None
            and forwarder.applies(scope)
            and await forwarder.forwarded(scope, body, receive, send)
        ):
            return
        replayed = replay(body, False, receive)
        await serve_until_disconnect(
            scope, receive, lambda: self._dispatch(scope, replayed, send, body)
        )

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, body: bytes | None = None
    ) -> None:
        endpoint = self.routes.get(scope["path"], {}).get(scope["method"])
        if endpoint is None or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        scope["path_params"] = {}
        scope["endpoint"] = endpoint
        request = Request(scope, receive, send)
        if body is not None:
            request._body = body  # what Request.body() keeps once read: read already
        record = access.current()
        try:
            response = await endpoint(request)
            await response(scope, receive, send)
        except Exception as exc:
            started = record is not None and record.status != 0
            handler = self._handler_for(exc)
            if handler is None or (started and isinstance(exc, HTTPException)):
                raise
            response = await handler(request, exc)
            if not started:
                await response(scope, receive, send)
            if not isinstance(exc, HTTPException):
                raise  # as Starlette's server-error layer does: the server logs it too

    def _handler_for(self, exc: Exception) -> ErrorHandler | None:
        for cls in type(exc).__mro__:
            if cls in self.error_handlers:
                return self.error_handlers[cls]
        return None

    async def _refuse(self, refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        await refusal.response(scope)(scope, receive, send)


class StampedSend:
    """The gate's `send`: notes the status and adds the model and account headers to the
    response's start. Body messages pass through unchanged, so a response that writes
    many of them (an event stream) may send them to `body_send` directly, one layer
    fewer per write."""

    __slots__ = ("accounts", "body_send", "record")

    def __init__(
        self, send: Send, record: access.AccessRecord, accounts: AccountHeaders | None
    ) -> None:
        self.body_send = send
        self.record = record
        self.accounts = accounts

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            record = self.record
            record.status = message["status"]
            extra = model_header(record)
            if self.accounts is not None:
                extra += self.accounts.headers(record)
            if extra:
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await self.body_send(message)


class GatedApp(Starlette):
    """A Starlette app whose outermost layer is a Gate (`gate_options`: its arguments
    besides the app, routes and error handlers, which are the app's own)."""

    def __init__(self, *args: Any, gate_options: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate_options = gate_options

    def build_middleware_stack(self) -> ASGIApp:
        handlers = {
            key: handler
            for key, handler in self.exception_handlers.items()
            if isinstance(key, type) and issubclass(key, Exception)
        }
        return Gate(
            super().build_middleware_stack(),
            routes=direct_routes(self.routes),
            error_handlers=handlers,
            **self.gate_options,
        )
