"""What the engine learns about the HTTP request it serves, for the layers around it.

The server's request log opens a note per request; the engine fills it in (account used,
model, tokens, context occupancy) and reads from it what the caller may use (the key's
restriction). A context variable carries it: the turn runs in tasks copied from the
request's context, which share the same note object.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from ..auth.restrictions import Restriction


@dataclass(slots=True)
class RequestNote:
    key_id: str | None = None
    restriction: Restriction | None = None
    account: str = ""  # label of the account that served the turn
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    context_used: int = 0
    context_max: int = 0
    summarized: bool = False


_current: contextvars.ContextVar[RequestNote | None] = contextvars.ContextVar(
    "cursor_bridge_request_note", default=None
)


def current_note() -> RequestNote | None:
    return _current.get()


def open_note(note: RequestNote) -> contextvars.Token[RequestNote | None]:
    return _current.set(note)


def close_note(token: contextvars.Token[RequestNote | None]) -> None:
    _current.reset(token)
