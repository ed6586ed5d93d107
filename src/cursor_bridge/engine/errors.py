"""Errors the engine raises for its callers to render in the client's dialect.

Every failure of a turn or of the model catalog reaches the caller as an `EngineError`: the
engine's own type, so callers need no protocol code to tell a rate limit from a bad request.
It carries what any dialect needs to answer: the HTTP status, a message for the client, a
machine-readable `reason`, the offending parameter, and when to retry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class EngineError(Exception):
    """A failure the client should see.

    `code` is the Connect code of the failure (`resource_exhausted`, `not_found`...);
    `status` the HTTP status the client gets; `reason` a short machine-readable slug
    (`rate_limit_exceeded`, `model_not_found`; None when the status says it all); `param` the
    request field at fault, in the internal model's terms; `retry_after` seconds to wait;
    `headers` extra response headers (`retry-after`, rate-limit headers); `detail` the
    backend's own words, without the explanation added for the client.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int,
        reason: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.reason = reason
        self.param = param
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        self.detail = detail or message


class ModelNotFound(EngineError):
    """The requested model is not in the account's catalog."""

    def __init__(self, requested: str, suggestions: Sequence[str]) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        message = f"The model '{requested}' does not exist or is not available.{hint}"
        super().__init__("not_found", message, status=404, reason="model_not_found", param="model")
        self.requested = requested
        self.suggestions = tuple(suggestions)


class InvalidChatRequest(EngineError):
    """The request is well-formed JSON but cannot be turned into a turn (client's fault).

    `param` names the offending field in the internal model's terms (`messages`, `tools`,
    `tool_choice`); dialects may translate it.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__("invalid_argument", message, status=400, param=param)
