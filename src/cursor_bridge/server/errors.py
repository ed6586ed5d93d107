"""Errors rendered as OpenAI error bodies with the right HTTP status, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from .. import access
from ..auth.pool import AllAccountsCooling, NotAllowed
from ..dialects import anthropic_render
from ..engine.compaction import ContextTooLong
from ..engine.enforce import OutputRejected
from ..protocol.errors import ConnectError

# Connect code -> (HTTP status, OpenAI error type, OpenAI error code)
_BACKEND_ERRORS: dict[str, tuple[int, str, str]] = {
    "unauthenticated": (401, "authentication_error", "invalid_api_key"),
    "permission_denied": (403, "permission_error", "permission_denied"),
    "resource_exhausted": (429, "rate_limit_error", "rate_limit_exceeded"),
    "invalid_argument": (400, "invalid_request_error", "invalid_request"),
    "failed_precondition": (400, "invalid_request_error", "failed_precondition"),
    "out_of_range": (400, "invalid_request_error", "invalid_request"),
    "not_found": (404, "invalid_request_error", "not_found"),
    "deadline_exceeded": (504, "api_error", "upstream_timeout"),
    "unavailable": (503, "api_error", "upstream_unavailable"),
    "canceled": (499, "api_error", "canceled"),
}
_DEFAULT_BACKEND_ERROR = (502, "api_error", "upstream_error")

_HINTS = {
    "unauthenticated": " Run `cursor-bridge login` to sign in to Cursor again.",
    "permission_denied": " Run `cursor-bridge login` to sign in to Cursor again.",
    "resource_exhausted": " Your Cursor usage limit or rate limit was reached.",
}


def error_body(
    message: str, error_type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    access.note_error(message)
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    error_type: str,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(message, error_type, code, param), status_code=status, headers=headers
    )


def backend_error(error: ConnectError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for a failure reported by (or about) the backend."""
    if isinstance(error, ContextTooLong):
        body = error_body(error.message, "invalid_request_error", "context_length_exceeded")
        body["error"]["param"] = "messages"
        return 400, body, {}
    if isinstance(error, OutputRejected):
        return 502, error_body(error.message, "api_error", "invalid_model_output"), {}
    status, error_type, code = _BACKEND_ERRORS.get(error.code, _DEFAULT_BACKEND_ERROR)
    message = f"Cursor backend error ({error.code}): {error.message or 'no details'}."
    if not isinstance(error, NotAllowed):
        message += _HINTS.get(error.code, "")
    headers = {}
    if error.retry_after is not None:
        headers["retry-after"] = str(max(1, round(error.retry_after)))
    if isinstance(error, AllAccountsCooling):
        headers.update(error.headers)
    return status, error_body(message, error_type, code), headers


def backend_error_response(error: ConnectError) -> JSONResponse:
    status, body, headers = backend_error(error)
    return JSONResponse(body, status_code=status, headers=headers)


def speaks_anthropic(path: str) -> bool:
    """Anthropic clients get Anthropic-shaped errors on their routes (`/v1/messages*`)."""
    return path.startswith("/v1/messages")


def dialect_error(
    path: str,
    status: int,
    message: str,
    code: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error in the shape the caller of *path* reads: Anthropic's on `/v1/messages*`,
    OpenAI's everywhere else (Cursor IDE's chat route included). Used by the middleware,
    which answers before any route runs."""
    if speaks_anthropic(path):
        request_id = anthropic_render.new_request_id()
        body = anthropic_render.error_body(anthropic_render.error_type(status), message, request_id)
        return JSONResponse(
            body, status_code=status, headers={**(headers or {}), "request-id": request_id}
        )
    error_type = {401: "authentication_error", 403: "permission_error"}.get(
        status, "invalid_request_error"
    )
    return error_response(status, message, error_type, code, headers=headers)
