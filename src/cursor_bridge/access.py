"""What one HTTP request did: the one record the access log, the status page's recent
requests, `/metrics` and the account headers all read.

The server's gate (server/gate.py) opens a record per request; the client-key check, the
route and the engine fill in what only they know (the caller's key and its restriction, the
Cursor model, the account that served the turn, whether the Run was continued, resumed or
fresh, time to first output, tokens, the conversation's context occupancy). A context
variable carries it, so no signature changes; outside a request every `note_*` call is a
no-op and `current()` is None. Only names and numbers go in: never a prompt, a token or an
API key.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .auth.restrictions import Restriction

_current: ContextVar[AccessRecord | None] = ContextVar("cursor_bridge_access", default=None)


@dataclass(slots=True)
class AccessRecord:
    method: str
    path: str
    dialect: str
    started: float = field(default_factory=time.monotonic)
    at: float = field(default_factory=time.time)  # wall clock: when it came in
    finished: float | None = None  # monotonic: when the response ended
    status: int = 0
    requested_model: str = ""
    cursor_model: str = ""
    run: str = ""  # continued | resumed | fresh
    first_output: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str = ""
    key_id: str | None = None  # the caller's client key (set after the key check)
    restriction: Restriction | None = None  # what that key may use
    account: str = ""  # label of the pool account that served the turn
    context_used: int = 0  # the conversation's occupancy of the window after the turn
    context_max: int = 0
    summarized: bool = False  # the backend summarised the conversation first

    @property
    def ttft(self) -> float | None:
        """Seconds to the first output; None when none came."""
        return None if self.first_output is None else self.first_output - self.started

    @property
    def duration(self) -> float:
        return (self.finished if self.finished is not None else time.monotonic()) - self.started

    def add_usage(self, input_tokens: int, output_tokens: int) -> None:
        """Tokens of one more turn of this request."""
        self.input_tokens = (self.input_tokens or 0) + input_tokens
        self.output_tokens = (self.output_tokens or 0) + output_tokens

    def fields(self, finished: float) -> dict[str, Any]:
        """The log line's fields, in order; absent ones left out."""
        out: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "dialect": self.dialect,
            "status": self.status,
        }
        if self.requested_model:
            out["model"] = self.requested_model
        if self.cursor_model:
            out["cursor_model"] = self.cursor_model
        if self.run:
            out["run"] = self.run
        if self.first_output is not None:
            out["ttft_ms"] = round((self.first_output - self.started) * 1000, 1)
        out["duration_ms"] = round((finished - self.started) * 1000, 1)
        if self.input_tokens is not None:
            out["input_tokens"] = self.input_tokens
        if self.output_tokens is not None:
            out["output_tokens"] = self.output_tokens
        if self.error:
            out["error"] = self.error
        return out


def start(record: AccessRecord) -> None:
    _current.set(record)


def current() -> AccessRecord | None:
    return _current.get()


def note_requested_model(name: str) -> None:
    record = _current.get()
    if record is not None:
        record.requested_model = name


def note_body_model(body: object) -> None:
    """The model a request body names, before it is validated (so failures show it too)."""
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        note_requested_model(body["model"][:200])


def note_cursor_model(model_id: str) -> None:
    record = _current.get()
    if record is not None:
        record.cursor_model = model_id


def note_run(kind: str) -> None:
    record = _current.get()
    if record is not None:
        record.run = kind


def note_first_output() -> None:
    record = _current.get()
    if record is not None and record.first_output is None:
        record.first_output = time.monotonic()


def note_usage(input_tokens: int, output_tokens: int) -> None:
    record = _current.get()
    if record is not None:
        record.input_tokens = input_tokens
        record.output_tokens = output_tokens


def note_error(message: str) -> None:
    """The error message sent to the client (ours: it names fields and codes, not content)."""
    record = _current.get()
    if record is not None and not record.error:
        record.error = message[:300]
