"""OpenAI's error shape, used by every OpenAI-speaking route (chat, Responses, Cursor IDE's)."""

from __future__ import annotations

from typing import Any

from .dialect import ErrorReport, ErrorShape

_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def error_type(status: int) -> str:
    """OpenAI's error `type` for a status: failures on the server's side are `api_error`."""
    return _TYPES.get(status, "api_error" if status >= 499 else "invalid_request_error")


def error_body(
    message: str, kind: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class OpenAIErrors(ErrorShape):
    """`{"error": {"message", "type", "param", "code"}}`."""

    def error_body(self, report: ErrorReport) -> dict[str, Any]:
        kind = report.error_type or error_type(report.status)
        return error_body(report.message, kind, report.code, report.param)
