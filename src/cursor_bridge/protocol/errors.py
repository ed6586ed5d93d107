"""Errors of the protocol core, each naming the side at fault (the h11 habit)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable

# Connect error codes (lower-case snake strings) and their gRPC numbers.
CONNECT_CODES: dict[str, int] = {
    "canceled": 1,
    "unknown": 2,
    "invalid_argument": 3,
    "deadline_exceeded": 4,
    "not_found": 5,
    "already_exists": 6,
    "permission_denied": 7,
    "resource_exhausted": 8,
    "failed_precondition": 9,
    "aborted": 10,
    "out_of_range": 11,
    "unimplemented": 12,
    "internal": 13,
    "unavailable": 14,
    "data_loss": 15,
    "unauthenticated": 16,
}
GRPC_TO_CONNECT: dict[int, str] = {number: code for code, number in CONNECT_CODES.items()}
# The Connect code of an HTTP error answer that carries no Connect error body (the one
# HTTP status -> Connect code mapping; other statuses: `unavailable` from 500 up, else
# `unknown`).
HTTP_STATUS_CODES: dict[int, str] = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "unimplemented",
    408: "deadline_exceeded",
    415: "internal",
    429: "resource_exhausted",
    502: "unavailable",
    503: "unavailable",
    504: "unavailable",
}


class ProtocolError(Exception):
    """Base class for everything the protocol core raises."""


class UpstreamProtocolError(ProtocolError):
    """The backend broke the wire protocol (bad frame, oversized frame, undecodable message)."""


class LocalProtocolError(ProtocolError):
    """We were asked to do something the protocol does not allow (a bug on our side)."""


class ConnectError(ProtocolError):
    """A Connect-level error reported by the backend (end-stream JSON, trailers or HTTP status).

    `code` is a Connect code string (see CONNECT_CODES); `retry_after` is in seconds when the
    backend asked for a back-off.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
        details: tuple[str, ...] = (),
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code

    def __repr__(self) -> str:
        return f"ConnectError({self.code!r}, {self.message!r})"

    @property
    def is_blob_not_found(self) -> bool:
        """The backend could not find a KV blob the conversation state referenced."""
        return self.code == "internal" and "blob not found" in self.message.lower()


def http_error(status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> ConnectError:
    """The error a non-200 HTTP answer stands for: the code and message of its Connect JSON
    body when it has one, else the status's code (HTTP_STATUS_CODES); `retry-after` from the
    headers."""
    code = HTTP_STATUS_CODES.get(status, "unavailable" if status >= 500 else "unknown")
    message = f"the backend answered HTTP {status}"
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        parsed = json.loads(body)
        code = str(parsed.get("code") or code)
        message = str(parsed.get("message") or message)
    retry_after = None
    with contextlib.suppress(ValueError, TypeError):
        retry_after = float(dict(headers).get("retry-after", ""))
    return ConnectError(code, message, http_status=status, retry_after=retry_after)
