"""What a dialect (one client API) gives the server's one endpoint runner (pure, no I/O).

A dialect parses a decoded JSON body into its own request and the engine's `ChatRequest`,
renders one turn's output events (as server-sent-event text, or as one JSON body), and
renders errors in its shape. The runner (`server/endpoint.py`) does the rest, the same for
every dialect: reading the body, starting the turn, streaming or collecting, cancelling on
disconnect. One instance serves one request, so it may hold per-request state (Anthropic's
request id, the Responses history).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..engine.errors import EngineError
from ..engine.output import OutputEvent
from ..engine.request import ChatRequest

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """An error as every dialect can render it.

    `code`: a machine-readable code (OpenAI's `code`); `param`: the request field at fault;
    `error_type`: OpenAI's `type` when the status does not imply it; `backend_code`: the
    Connect code of an engine failure (the Responses API names its failure from it).
    """

    status: int
    message: str
    code: str | None = None
    param: str | None = None
    error_type: str | None = None
    backend_code: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, error: EngineError, param: str | None = None) -> ErrorReport:
        """The report of an engine failure (`param`: in the dialect's terms, if it differs)."""
        return cls(
            error.status,
            error.message,
            error.reason,
            param if param is not None else error.param,
            backend_code=error.code,
            headers=error.headers,
        )


class Refused(Exception):
    """The request cannot be served, as `report` says (raised by a dialect or a turn source)."""

    def __init__(self, report: ErrorReport) -> None:
        super().__init__(report.message)
        self.report = report


class ErrorShape(ABC):
    """How a dialect's errors look; `headers` go with every answer of this request."""

    headers: Mapping[str, str] = {}

    @abstractmethod
    def error_body(self, report: ErrorReport) -> dict[str, Any]: ...


class StreamRenderer(ABC):
    """One response as server-sent-event text, written as the turn's batches arrive."""

    # Seconds without a write after which `keepalive()` is written (None: never).
    keepalive_interval: float | None = None

    def start(self) -> str:
        """What opens the stream, before any output."""
        return ""

    @abstractmethod
    def batch(self, events: Sequence[OutputEvent]) -> str:
        """The text for one batch of output ("" for nothing to write)."""

    def keepalive(self) -> str:
        return ""

    @abstractmethod
    def end(self) -> str:
        """What closes the stream once the turn finished."""

    @abstractmethod
    def error(self, report: ErrorReport) -> str:
        """What ends the stream when the turn fails after it started."""


class BodyRenderer(ABC):
    """One response as a single JSON body, built once the turn finished."""

    @abstractmethod
    def feed(self, events: Sequence[OutputEvent]) -> None: ...

    @abstractmethod
    def body(self) -> dict[str, Any]: ...


class Dialect(ErrorShape, Generic[P]):
    """A client API over the engine: parse, render the turn's events, render errors."""

    name = ""

    @abstractmethod
    def parse(self, body: Any) -> P:
        """The dialect's request from a decoded body; raises InvalidRequest. Runs in a worker
        thread for large bodies: no I/O, no shared state."""

    @abstractmethod
    def turn_request(self, parsed: P) -> ChatRequest:
        """The engine's request (its `stream` says how to answer); may raise Refused."""

    def request_param(self, param: str | None) -> str | None:
        """A field the engine rejected (InvalidChatRequest), in this dialect's terms."""
        return param

    @abstractmethod
    def renderer(self, parsed: P, input_tokens: int) -> StreamRenderer | BodyRenderer:
        """How to answer this turn; `input_tokens` are those known before any output."""
