"""Oversized bodies get 413 in the error shape of the dialect the client speaks."""

from __future__ import annotations

import httpx

from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.server.app import create_app


async def post(path: str, size: int) -> httpx.Response:
    # Nothing reaches the backend: the limit answers first.
    backend = CursorBackend(BackendConfig(api_url="http://127.0.0.1:9", agent_url="x"))
    app = create_app(backend, max_body_size=1000)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
            return await client.post(
                path,
                content=b"{" + b" " * size + b"}",
                headers={"content-type": "application/json"},
            )
    finally:
        await backend.aclose()


async def test_openai_routes_answer_413_in_openai_shape() -> None:
    response = await post("/v1/chat/completions", 5000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


async def test_messages_answers_413_in_anthropic_shape() -> None:
    response = await post("/v1/messages?beta=true", 5000)
    assert response.status_code == 413
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "request_too_large"


async def test_small_bodies_pass_the_limit() -> None:
    response = await post("/v1/messages", 10)
    assert response.status_code == 400  # reached the route: an empty object is not a request
