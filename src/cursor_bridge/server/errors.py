"""Error answers outside a dialect route's runner: the guards' refusals, the model list,
unknown routes. Each is in the shape of the route the request is for (endpoint.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.responses import JSONResponse
from starlette.types import Scope

from ..dialects.dialect import ErrorReport
from ..dialects.openai_errors import OpenAIErrors
from .endpoint import error_response, error_shape_for


def openai_error(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    *,
    error_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An OpenAI error body (`error_type`: OpenAI's `type`, when not the status's)."""
    report = ErrorReport(status, message, code, param, error_type, headers=headers or {})
    return error_response(OpenAIErrors(), report)


def dialect_error(
    scope: Scope,
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    error_type: str | None = None,
) -> JSONResponse:
    """An error in the shape of the route *scope* is for. Used by the guards, which answer
    before any route runs, and by the app's error handlers."""
    if error_type is None:
        error_type = {401: "authentication_error", 403: "permission_error"}.get(
            status, "invalid_request_error"
        )
    report = ErrorReport(status, message, code, error_type=error_type, headers=headers or {})
    return error_response(error_shape_for(scope), report)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A guard's refusal of a request, answered in the shape of the route it is for."""

    status: int
    message: str
    code: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self, scope: Scope) -> JSONResponse:
        return dialect_error(scope, self.status, self.message, self.code, self.headers)
