"""`/v1/responses`: the OpenAI Responses API (`dialects.responses_api`) and its store.

`POST` runs through the endpoint runner with the response store behind
`previous_response_id` and `store`; `GET` and `DELETE /v1/responses/{id}` read and remove
stored responses.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..dialects import openai_responses_render as render
from ..dialects.responses_api import OpenAIResponses
from ..engine import ChatMessage
from .endpoint import run_dialect
from .errors import openai_error
from .response_store import ResponseStore


async def create_response(request: Request) -> Response:
    store: ResponseStore = request.app.state.responses

    def history_of(response_id: str) -> tuple[ChatMessage, ...] | None:
        entry = store.get(response_id)
        return entry.history if entry is not None else None

    return await run_dialect(request, OpenAIResponses(history_of, store.put))


async def get_response(request: Request) -> Response:
    store: ResponseStore = request.app.state.responses
    response_id = request.path_params["response_id"]
    entry = store.get(response_id)
    if entry is None:
        return _not_found(response_id)
    return JSONResponse(entry.body)


async def delete_response(request: Request) -> Response:
    store: ResponseStore = request.app.state.responses
    response_id = request.path_params["response_id"]
    if not store.delete(response_id):
        return _not_found(response_id)
    return JSONResponse(render.deleted_body(response_id))


def _not_found(response_id: str) -> Response:
    message = f"Response with id '{response_id}' not found."
    return openai_error(404, message, param="response_id")
