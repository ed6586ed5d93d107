"""The engine's face to the HTTP server: a turn service that speaks only engine types.

`TurnService` is what a server needs from the engine: the model list, resolving a request's
model, and a turn's output events. `EngineService` provides it over a `CursorBackend` (the
real service, the emulator, a live login: all the same class) and is the engine boundary
for errors: every protocol-level `ConnectError` leaves it as an `EngineError` carrying the
HTTP status, the client-facing message and the retry hint (`engine_error`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import TYPE_CHECKING, Protocol, cast

from ..auth.pool import AllAccountsCooling, NotAllowed
from ..protocol.errors import ConnectError
from ..protocol.framing import DEFAULT_MAX_FRAME_SIZE
from .catalog import ModelChoice, ModelInfo
from .compaction import ContextTooLong
from .enforce import OutputRejected
from .errors import EngineError
from .output import OutputEvent
from .request import ChatRequest

if TYPE_CHECKING:
    from .backend import CursorBackend

# The largest request a turn can carry: it travels as one Run request frame.
MAX_REQUEST_SIZE = DEFAULT_MAX_FRAME_SIZE

# Connect code -> (HTTP status, reason) of a backend failure.
_BACKEND_STATUS: dict[str, tuple[int, str]] = {
    "unauthenticated": (401, "invalid_api_key"),
    "permission_denied": (403, "permission_denied"),
    "resource_exhausted": (429, "rate_limit_exceeded"),
    "invalid_argument": (400, "invalid_request"),
    "failed_precondition": (400, "failed_precondition"),
    "out_of_range": (400, "invalid_request"),
    "not_found": (404, "not_found"),
    "deadline_exceeded": (504, "upstream_timeout"),
    "unavailable": (503, "upstream_unavailable"),
    "canceled": (499, "canceled"),
}
_OTHER_BACKEND_STATUS = (502, "upstream_error")

_HINTS = {
    "unauthenticated": " Run `cursor-bridge login` to sign in to Cursor again.",
    "permission_denied": " Run `cursor-bridge login` to sign in to Cursor again.",
    "resource_exhausted": " Your Cursor usage limit or rate limit was reached.",
}


class TurnService(Protocol):
    """What the server asks of the engine; every failure is an EngineError."""

    async def models(self) -> list[ModelInfo]: ...

    async def resolve(self, request: ChatRequest) -> ModelChoice: ...

    def stream_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]: ...


class EngineService:
    """TurnService over a CursorBackend, translating its errors at the boundary."""

    def __init__(self, backend: CursorBackend) -> None:
        self.backend = backend
        from .backend import CursorBackend  # not at import: the engine package stays light

        # The real backend translates its errors itself as they leave it (no generator of
        # ours around its generator: one fewer per batch); a stand-in (tests subclass it
        # with a scripted stream_turn) is wrapped.
        self._translates = getattr(type(backend), "stream_turn", None) is CursorBackend.stream_turn

    async def models(self) -> list[ModelInfo]:
        with translated():
            return await self.backend.catalog.models()

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        # What `with translated():` does, without a context manager's generator per request.
        try:
            return await self.backend.resolve(request)
        except ConnectError as exc:
            raise engine_error(exc) from exc

    def stream_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        """The backend's batches, its errors translated; closing the iterator closes
        (cancels) the backend's."""
        if self._translates:
            return self.backend.stream_turn(request, choice, translate=engine_error)
        return self._translated_turn(request, choice)

    async def _translated_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        # stream_turn is an async generator (it promises only an iterator): close it with us.
        batches = cast(AsyncGenerator[list[OutputEvent]], self.backend.stream_turn(request, choice))
        with translated():
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    yield batch


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Raise the EngineError a ConnectError raised inside stands for."""
    try:
        yield
    except ConnectError as exc:
        raise engine_error(exc) from exc


def engine_error(error: ConnectError) -> EngineError:
    """What the client should see of a protocol-level failure (status, message, hints)."""
    if isinstance(error, ContextTooLong):
        return EngineError(
            error.code,
            error.message,
            status=400,
            reason="context_length_exceeded",
            param="messages",
        )
    if isinstance(error, OutputRejected):
        return EngineError(error.code, error.message, status=502, reason="invalid_model_output")
    status, reason = _BACKEND_STATUS.get(error.code, _OTHER_BACKEND_STATUS)
    message = f"Cursor backend error ({error.code}): {error.message or 'no details'}."
    if not isinstance(error, NotAllowed):
        message += _HINTS.get(error.code, "")
    headers = {}
    if error.retry_after is not None:
        headers["retry-after"] = str(max(1, round(error.retry_after)))
    if isinstance(error, AllAccountsCooling):
        headers.update(error.headers)
    return EngineError(
        error.code,
        message,
        status=status,
        reason=reason,
        retry_after=error.retry_after,
        headers=headers,
        detail=error.message,
    )
