"""The ASGI application: routes, error handlers and lifespan around one backend."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..auth.restrictions import RestrictionStore, restriction_lookup
from ..dialects.anthropic import AnthropicErrors, AnthropicMessages
from ..dialects.dialect import ErrorReport
from ..dialects.openai_chat import OpenAIChat
from ..dialects.openai_errors import OpenAIErrors
from ..dialects.responses_api import ResponsesCompact
from ..engine import EngineError, EngineService, ModelInfo, TurnService
from ..engine.backend import CursorBackend
from ..passthrough import OpenAIUpstream
from .account_headers import AccountHeaders, RestrictionLookup
from .cursor_chat import cursor_chat_completions
from .endpoint import DialectRoute, dialect_route, error_response
from .errors import dialect_error, openai_error
from .forwarding import FollowUpForwarder, WorkerLookup
from .gate import GatedApp
from .guards import Guards
from .messages import count_tokens
from .metrics import metrics, metrics_registry
from .openapi import openapi
from .request_log import RequestLog
from .response_store import ResponseStore
from .responses import create_response, delete_response, get_response
from .status_page import status_page

log = logging.getLogger(__name__)


def create_app(
    backend: CursorBackend,
    *,
    mode: str = "cursor",
    max_body_size: int | None = None,
    cursor_chat_upstream: OpenAIUpstream | None = None,
    response_store: ResponseStore | None = None,
    restriction_for: RestrictionLookup | None = None,
    forward_to: tuple[str, WorkerLookup] | None = None,
    guards: Guards | None = None,
) -> Starlette:
    """Build the app. `mode` is shown by /health (`cursor` or `emulator`);
    `cursor_chat_upstream` replaces *backend* as the upstream of /cursor/chat/completions;
    `guards` say who may call it (default: keys from CURSOR_BRIDGE_HOME and the environment,
    loopback names, no web origins; see guards.py)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await backend.aclose()
        if cursor_chat_upstream is not None:
            await cursor_chat_upstream.aclose()

    guards = guards if guards is not None else Guards()
    if max_body_size is not None:
        guards = dataclasses.replace(guards, max_body_size=max_body_size)
    request_log = RequestLog()
    forwarder = None
    if forward_to is not None:  # one of `serve --workers N`: tool follow-ups to their Run
        forwarder = FollowUpForwarder(instance=forward_to[0], lookup=forward_to[1])
    accounts = AccountHeaders(
        pool=lambda: backend.config.accounts,
        restriction_for=restriction_for or restriction_lookup(RestrictionStore()),
    )
    app = GatedApp(
        gate_options={
            "guards": guards,
            "requests": request_log,
            "accounts": accounts,
            "forwarder": forwarder,
        },
        routes=[
            dialect_route("/v1/chat/completions", OpenAIChat),
            dialect_route("/v1/messages", AnthropicMessages),
            DialectRoute("/v1/messages/count_tokens", count_tokens, errors=AnthropicErrors),
            DialectRoute("/cursor/chat/completions", cursor_chat_completions, errors=OpenAIErrors),
            DialectRoute("/v1/responses", create_response, errors=OpenAIErrors),
            dialect_route("/v1/responses/compact", ResponsesCompact),
            Route("/v1/responses/{response_id}", get_response, methods=["GET"]),
            Route("/v1/responses/{response_id}", delete_response, methods=["DELETE"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/status", status_page, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.engine = EngineService(backend)
    app.state.mode = mode
    app.state.cursor_chat_upstream = cursor_chat_upstream
    app.state.responses = response_store if response_store is not None else ResponseStore()
    app.state.started = time.time()
    app.state.request_log = request_log
    app.state.write_pacing = None  # the loop's (pacing.py) unless a test injects one
    app.state.metrics_registry = metrics_registry(backend, app.state.request_log)
    return app


def model_entry(model: ModelInfo, created: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": model.id,
        "object": "model",
        "created": created,
        "owned_by": "cursor",
        "display_name": model.display_name,
        "context_window": model.context_window,
        "supports_images": model.supports_images,
        "supports_tools": model.supports_tools,
        "supports_reasoning": model.supports_thinking,
    }
    if model.max_context_window:
        entry["max_context_window"] = model.max_context_window
    if model.efforts:
        entry["reasoning_efforts"] = list(model.efforts)
    if model.aliases:
        entry["aliases"] = list(model.aliases)
    return entry


async def list_models(request: Request) -> Response:
    engine: TurnService = request.app.state.engine
    try:
        models = await engine.models()
    except EngineError as exc:
        return error_response(OpenAIErrors(), ErrorReport.of(exc))
    created = int(request.app.state.started)
    return JSONResponse({"object": "list", "data": [model_entry(m, created) for m in models]})


async def get_model(request: Request) -> Response:
    engine: TurnService = request.app.state.engine
    model_id = request.path_params["model_id"]
    try:
        models = await engine.models()
    except EngineError as exc:
        return error_response(OpenAIErrors(), ErrorReport.of(exc))
    for model in models:
        if model.id == model_id or model_id in model.aliases:
            return JSONResponse(model_entry(model, int(request.app.state.started)))
    message = f"The model '{model_id}' does not exist or is not available."
    return openai_error(404, message, "model_not_found", "model")


async def health(request: Request) -> Response:
    body = {"status": "ok", "mode": request.app.state.mode}
    instance = request.app.state.backend.config.instance_id
    if instance:
        body["instance"] = instance  # which of several processes answered
    return JSONResponse(body)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = f"{request.method} {request.url.path}: {exc.detail}"
    if exc.status_code == 404:
        message += _suggest_route(request)
    error_type = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return dialect_error(
        request.scope, exc.status_code, message, headers=exc.headers, error_type=error_type
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error while serving %s %s", request.method, request.url.path)
    message = "Internal error in cursor-bridge; see its log."
    return dialect_error(request.scope, 500, message, error_type="api_error")


def _suggest_route(request: Request) -> str:
    """`Did you mean POST /v1/chat/completions?` for a path close to a real route."""
    path = request.url.path.rstrip("/") or "/"
    routes = {
        route.path: sorted(route.methods or ())
        for route in request.app.routes
        if isinstance(route, Route) and "{" not in route.path
    }
    candidates = [p for p in (f"/v1{path}", path.removeprefix("/v1")) if p in routes]
    candidates += difflib.get_close_matches(path, list(routes), n=1, cutoff=0.6)
    if not candidates:
        return " (routes: " + ", ".join(sorted(p for p in routes if p.startswith("/v1"))) + ")"
    best = candidates[0]
    methods = "/".join(m for m in routes[best] if m != "HEAD")
    return f". Did you mean {methods} {best}?"
