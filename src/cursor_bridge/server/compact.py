"""`POST /v1/responses/compact`: Codex's remote compaction, done by the Cursor model itself.

Cursor's protocol lists a `SummarizeAction`, but the protocol facts do not say what the
backend answers to it or how its checkpoint would map onto a Responses history, so the
bridge does not guess: it asks the selected model, in an ordinary turn with no tools, to
summarise the conversation, and returns that summary as one `compaction` item. The item's
`encrypted_content` is the summary, merely encoded (dialects/openai_responses.py
`compaction_content`): when a client sends the item back, the summary becomes a user message
that opens the compacted conversation.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..dialects import openai_responses as dialect
from ..dialects import openai_responses_render as render
from ..engine.backend import CursorBackend
from ..engine.errors import InvalidChatRequest, ModelNotFound
from ..engine.output import TextDelta, TurnFinished, Usage
from ..engine.request import ChatMessage, ChatRequest
from ..protocol.errors import ConnectError
from .errors import backend_error_response, error_response
from .json_body import InvalidBody, read_json
from .turns import Turn, start_turn, until_disconnect

SUMMARY_REQUEST = (
    "Summarise the conversation so far for your own later use: the goal, the decisions made, "
    "the facts and file contents learned, what was done and what remains. Answer with the "
    "summary only."
)


async def compact_response(request: Request) -> Response:
    backend: CursorBackend = request.app.state.backend
    try:
        body = await read_json(request)
    except InvalidBody as exc:
        return error_response(400, exc.message, "invalid_request_error")
    if not isinstance(body, dict):
        return error_response(
            400, "The request body must be a JSON object.", "invalid_request_error"
        )
    body = {key: body[key] for key in ("model", "input", "instructions") if key in body}
    body.setdefault("input", [])
    try:
        parsed = dialect.parse_request(body)
    except dialect.InvalidRequest as exc:
        return error_response(400, exc.message, "invalid_request_error", exc.code, exc.param)
    chat = ChatRequest(
        model=parsed.model,
        messages=(*parsed.chat_request().messages, ChatMessage("user", SUMMARY_REQUEST)),
        include_usage=True,
        tool_choice="none",
    )
    try:
        turn = await start_turn(request, backend, chat)
        summary, usage = await until_disconnect(request, _collect(turn))
    except InvalidChatRequest as exc:
        return error_response(400, str(exc), "invalid_request_error", param="input")
    except ModelNotFound as exc:
        return error_response(404, str(exc), "invalid_request_error", "model_not_found", "model")
    except ConnectError as exc:
        return backend_error_response(exc)
    item_id = render.new_id("cmp")
    item = {
        "type": "compaction",
        "id": item_id,
        "encrypted_content": dialect.compaction_content(summary),
    }
    return JSONResponse(
        {
            "id": item_id,
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [item],
            "usage": render.usage_body(usage),
        }
    )


async def _collect(turn: Turn) -> tuple[str, Usage]:
    text: list[str] = []
    usage = Usage()
    try:
        async for batch in turn.batches():
            for event in batch:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, TurnFinished):
                    usage = event.usage
    finally:
        await turn.aclose()
    return "".join(text), usage
