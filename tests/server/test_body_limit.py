"""Oversized bodies get 413 in the error shape of the dialect the client speaks."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Message, Receive

from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.server import limits
from cursor_bridge.server.app import create_app
from cursor_bridge.server.limits import BodyLimits, BodyRefused, ClientGone


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


# -- a body the server already holds (`serve`'s protocol says so: limits.BODY_COMPLETE) ------


def messages_of(*messages: Message) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return receive


def no_deadline(*args: object) -> object:
    raise AssertionError("a deadline was armed for a body already in")


async def test_a_complete_body_is_read_without_a_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits.asyncio, "timeout_at", no_deadline)
    guard = BodyLimits(max_body_size=10)
    receive = messages_of({"type": "http.request", "body": b"{}", "more_body": False})
    assert await guard.read(receive, lambda: True) == b"{}"
    with pytest.raises(BodyRefused) as refused:
        big = messages_of({"type": "http.request", "body": b"x" * 11, "more_body": False})
        await guard.read(big, lambda: True)
    assert refused.value.refusal.status == 413
    with pytest.raises(ClientGone):
        await guard.read(messages_of({"type": "http.disconnect"}), lambda: True)


async def test_a_body_not_yet_complete_is_read_under_the_deadline() -> None:
    guard = BodyLimits(max_body_size=10, read_timeout=0.05)

    async def trickle() -> Message:
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError

    first = messages_of({"type": "http.request", "body": b"{", "more_body": True})
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return await first()
        return await trickle()

    with pytest.raises(BodyRefused) as refused:
        await guard.read(receive, lambda: True)  # said complete, was not: still guarded
    assert refused.value.refusal.status == 408
    with pytest.raises(BodyRefused) as refused:
        await guard.read(trickle, lambda: False)
    assert refused.value.refusal.status == 408
