"""Errors of the protocol core, each naming the side at fault (the h11 habit)."""

from __future__ import annotations

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
