"""The one endpoint every dialect runs: read, parse, start the turn, answer, render errors.

For any dialect (dialects/dialect.py) the steps are the same: the body is read and parsed
(large bodies in a worker thread), the turn started (`start_turn` waits for the first
output, so early failures get a real HTTP status), then answered as a stream or as one
body. Failures are rendered in the dialect's error shape: before the answer as an HTTP
error, after it as the stream's last event. A client that disconnects cancels the turn.

Routes carry their dialect's error shape (`DialectRoute`), so the guards' refusals, which
come before any route runs, answer in the shape of the route the request is for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from .. import access
from ..dialects.common import InvalidRequest
from ..dialects.dialect import (
    BodyRenderer,
    Dialect,
    ErrorReport,
    ErrorShape,
    Refused,
    StreamRenderer,
)
from ..dialects.openai_errors import OpenAIErrors
from ..engine import (
    ChatRequest,
    EngineError,
    InvalidChatRequest,
    OutputEvent,
    TextDelta,
    ThinkingDelta,
    TurnFinished,
    TurnService,
)
from .event_stream import EventStream, Write
from .json_body import InvalidBody, parse_off_loop
from .pacing import WritePacing, loop_pacing
from .turns import start_turn, until_disconnect

log = logging.getLogger(__name__)

P = TypeVar("P")
P_contra = TypeVar("P_contra", contravariant=True)

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
# What a route refuses with an answer in its dialect instead of a 500.
REFUSALS = (InvalidBody, InvalidRequest, EngineError, Refused)


class Turn(Protocol):
    """A turn in progress, from the engine or from another upstream."""

    @property
    def input_tokens(self) -> int: ...

    def batches(self) -> AsyncIterator[list[OutputEvent]]: ...

    async def aclose(self) -> None: ...


class TurnStarter(Protocol[P_contra]):
    """Starts the turn of a parsed request (the engine's, unless a route says otherwise)."""

    def __call__(
        self, request: Request, chat: ChatRequest, parsed: P_contra
    ) -> Awaitable[Turn]: ...


def engine_turn(request: Request, chat: ChatRequest, parsed: object) -> Awaitable[Turn]:
    engine: TurnService = request.app.state.engine
    return start_turn(request, engine, chat)


async def run_dialect(
    request: Request, dialect: Dialect[P], start: TurnStarter[P] = engine_turn
) -> Response:
    """Serve one request of *dialect* (module docstring)."""
    try:
        parsed = await parse_off_loop(request, dialect.parse)
        turn = await start(request, dialect.turn_request(parsed), parsed)
    except REFUSALS as exc:
        return refusal(dialect, exc)
    renderer = dialect.renderer(parsed, turn.input_tokens)
    if isinstance(renderer, StreamRenderer):
        pacing = pacing_of(request)
        return EventStream(
            lambda write: _stream(dialect, turn, renderer, write, pacing),
            SSE_HEADERS,  # the same set for every stream: encoded once (event_stream.py)
            own_headers=dialect.headers,
            writes_at_once=True,  # the turn's first output is in hand (start_turn)
        )
    try:
        body = await until_disconnect(request, _collect(turn, renderer))
    except REFUSALS as exc:
        return refusal(dialect, exc)
    return JSONResponse(body, headers=dict(dialect.headers) or None)


def pacing_of(request: Request) -> WritePacing:
    """The app's `write_pacing` if it has one (tests inject lag), else the loop's."""
    pacing: WritePacing | None = getattr(request.app.state, "write_pacing", None)
    return pacing if pacing is not None else loop_pacing()


async def _stream(
    dialect: Dialect[Any], turn: Turn, renderer: StreamRenderer, write: Write, pacing: WritePacing
) -> str:
    """Write the turn's events; the text returned ends the stream. Text that is ready
    together goes out in one write: the stream's start with the first output (already in
    hand when the answer starts), the turn's last output with the stream's end. After a
    write of streamed words, a loop that is behind holds the next read of the turn
    (pacing.py), so what arrives meanwhile goes out together; the first output is never
    held, nor the end of a tool round."""
    interval = renderer.keepalive_interval
    pending = renderer.start()
    lag = pacing.source
    lag.acquire()
    try:
        last_write = time.monotonic()
        async for batch in turn.batches():
            pending += renderer.batch(batch)
            now = time.monotonic()
            if pending:
                last = batch[-1]
                if not isinstance(last, TurnFinished):
                    await write(pending)
                    pending = ""
                    # Only streamed words are held: after anything else (a tool call,
                    # whose round ends next) the client waits for what follows.
                    if isinstance(last, TextDelta | ThinkingDelta):
                        hold = pacing.hold()
                        if hold:
                            await asyncio.sleep(hold)
                last_write = now
            elif interval is not None and now - last_write >= interval:
                await write(renderer.keepalive())
                last_write = now
        return pending + renderer.end()
    except (EngineError, Refused) as exc:
        report = report_of(dialect, exc)
        access.note_error(report.message)
        return pending + renderer.error(report)
    finally:
        lag.release()
        # Runs on client disconnect too (the answer is cancelled): cancel upstream.
        await turn.aclose()


async def _collect(turn: Turn, renderer: BodyRenderer) -> dict[str, Any]:
    try:
        async for batch in turn.batches():
            renderer.feed(batch)
    finally:
        await turn.aclose()
    return renderer.body()


def report_of(dialect: Dialect[Any], exc: Exception) -> ErrorReport:
    """What the client is told about a refusal (one of REFUSALS)."""
    if isinstance(exc, Refused):
        return exc.report
    if isinstance(exc, InvalidChatRequest):
        return ErrorReport.of(exc, dialect.request_param(exc.param))
    if isinstance(exc, EngineError):
        return ErrorReport.of(exc)
    if isinstance(exc, InvalidRequest):
        log.info("rejected a %s request: %s", dialect.name, exc.message)
        return ErrorReport(400, exc.message, exc.code, exc.param)
    assert isinstance(exc, InvalidBody)
    return ErrorReport(400, exc.message)


def refusal(dialect: Dialect[Any], exc: Exception) -> JSONResponse:
    return error_response(dialect, report_of(dialect, exc))


def error_response(shape: ErrorShape, report: ErrorReport) -> JSONResponse:
    """The HTTP error answer, in *shape*, with the report's and the shape's headers."""
    access.note_error(report.message)
    headers = {**report.headers, **shape.headers}
    return JSONResponse(shape.error_body(report), status_code=report.status, headers=headers)


# -- routes --------------------------------------------------------------------------------


class DialectRoute(Route):
    """A route that speaks one dialect: `errors()` gives its error shape for one answer."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[[Request], Awaitable[Response]],
        *,
        errors: Callable[[], ErrorShape],
        methods: list[str] | None = None,
    ) -> None:
        super().__init__(path, endpoint, methods=methods or ["POST"])
        self.errors = errors


def dialect_route(path: str, dialect: Callable[[], Dialect[Any]]) -> DialectRoute:
    """`POST path`, served through the runner by a fresh *dialect* per request."""

    async def endpoint(request: Request) -> Response:
        return await run_dialect(request, dialect())

    return DialectRoute(path, endpoint, errors=dialect)


def error_shape_for(scope: Scope) -> ErrorShape:
    """The error shape of the route *scope* is for: the matching route's (methods aside),
    else the dialect route the path lies under (`/v1/messages/...`), else OpenAI's."""
    path = scope.get("path", "")
    under: DialectRoute | None = None
    for route in getattr(scope.get("app"), "routes", ()):
        if not isinstance(route, Route):
            continue
        if route.matches(scope)[0] is not Match.NONE:
            return route.errors() if isinstance(route, DialectRoute) else OpenAIErrors()
        longer = under is None or len(route.path) > len(under.path)
        if isinstance(route, DialectRoute) and path.startswith(route.path) and longer:
            under = route
    return under.errors() if under is not None else OpenAIErrors()
