"""Recent requests, and the account headers on every model response (pure ASGI middleware).

Each model request (`/v1/...` but the model list, `/cursor/...`) gets a RequestNote the
engine fills in; when the response starts, the account that served it and that account's
usage go out as headers, and when it ends the request joins a bounded log: dialect, model,
status, time to first token (first body bytes after the response started), tokens. The
status page reads the log; nothing here is written to disk.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth.restrictions import Restriction
from ..engine.request_note import RequestNote, close_note, open_note

RestrictionLookup = Callable[[Scope], tuple[str | None, Restriction | None]]
ACCOUNT_HEADER = "x-cursor-bridge-account"
USAGE_HEADER = "x-cursor-bridge-account-usage"
_DIALECTS = (
    ("/v1/chat/completions", "openai-chat"),
    ("/v1/responses", "openai-responses"),
    ("/v1/messages", "anthropic"),
    ("/cursor/chat/completions", "cursor-chat"),
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    at: float  # Unix seconds when the request came in
    dialect: str
    model: str
    status: int
    ttft: float | None  # seconds to the first body bytes; None when nothing came
    duration: float
    input_tokens: int
    output_tokens: int
    account: str
    context_used: int = 0  # the conversation's occupancy of the window after the turn
    context_max: int = 0
    summarized: bool = False


class RequestLog:
    """The last `size` model requests, oldest first."""

    def __init__(self, size: int = 2000) -> None:
        self.records: deque[RequestRecord] = deque(maxlen=size)

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)

    def since(self, start: float) -> list[RequestRecord]:
        return [r for r in self.records if r.at >= start]


def dialect_of(path: str) -> str | None:
    return next((name for prefix, name in _DIALECTS if path.startswith(prefix)), None)


class RequestNotes:
    """Opens the note, adds the account headers, logs the request (see module doc).

    `usage_of(label)`: the account's usage as a header value, or "" for none.
    `restriction_for(scope)`: the caller's key id and its restriction (set by the client-key
    check before this middleware runs), or (None, None).
    """

    def __init__(
        self,
        app: ASGIApp,
        log: RequestLog,
        usage_of: Callable[[str], str] | None = None,
        restriction_for: RestrictionLookup | None = None,
    ) -> None:
        self.app = app
        self.log = log
        self.usage_of = usage_of
        self.restriction_for = restriction_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        dialect = dialect_of(scope.get("path", "")) if scope["type"] == "http" else None
        if dialect is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        note = RequestNote()
        if self.restriction_for is not None:
            note.key_id, note.restriction = self.restriction_for(scope)
        scope.setdefault("state", {})["request_note"] = note
        started_wall, started = time.time(), time.perf_counter()
        status = 0
        first_body: float | None = None

        async def noted_send(message: Message) -> None:
            nonlocal status, first_body
            if message["type"] == "http.response.start":
                status = message["status"]
                if note.account:
                    headers = list(message.get("headers", []))
                    headers.append((ACCOUNT_HEADER.encode(), _latin1(note.account)))
                    usage = self.usage_of(note.account) if self.usage_of else ""
                    if usage:
                        headers.append((USAGE_HEADER.encode(), usage.encode()))
                    message = {**message, "headers": headers}
            elif (
                message["type"] == "http.response.body"
                and first_body is None
                and message.get("body")
            ):
                first_body = time.perf_counter()
            await send(message)

        token = open_note(note)
        try:
            await self.app(scope, receive, noted_send)
        finally:
            close_note(token)
            self.log.add(
                RequestRecord(
                    at=started_wall,
                    dialect=dialect,
                    model=note.model,
                    status=status or 499,
                    ttft=None if first_body is None else first_body - started,
                    duration=time.perf_counter() - started,
                    input_tokens=note.input_tokens,
                    output_tokens=note.output_tokens,
                    account=note.account,
                    context_used=note.context_used,
                    context_max=note.context_max,
                    summarized=note.summarized,
                )
            )


def _latin1(text: str) -> bytes:
    return text.encode("latin-1", "replace")
