"""`POST /v1/messages/count_tokens`: Anthropic's token count, estimated locally.

(`POST /v1/messages` itself is `dialects.anthropic.AnthropicMessages` through the endpoint
runner.) Anthropic clients send `x-api-key` or `authorization`, `anthropic-version` and
`anthropic-beta` headers and, like Claude Code, a `?beta=true` query: all are accepted; the
bridge's own Cursor login is what talks to the backend. Every answer carries a `request-id`
header, and errors use Anthropic's `{"type": "error", "error": {...}}` shape.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..dialects.anthropic import AnthropicMessages
from ..engine import TurnService
from ..engine.token_estimate import estimate_input_tokens
from .endpoint import REFUSALS, refusal
from .json_body import parse_off_loop
from .turns import until_disconnect


async def count_tokens(request: Request) -> Response:
    """A local estimate (engine/token_estimate.py); the model name is still checked."""
    engine: TurnService = request.app.state.engine
    dialect = AnthropicMessages(count_only=True)
    try:
        parsed = await parse_off_loop(request, dialect.parse)
        await until_disconnect(request, engine.resolve(parsed.chat))
    except REFUSALS as exc:
        return refusal(dialect, exc)
    body = {"input_tokens": estimate_input_tokens(parsed.chat)}
    return JSONResponse(body, headers=dict(dialect.headers))
