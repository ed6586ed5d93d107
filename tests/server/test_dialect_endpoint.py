"""The one dialect endpoint and the engine facade: errors keep their status and hints from
the backend to the client, the error shape follows the route's dialect, and a new dialect
is one dialect class plus one route over any TurnService."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
from starlette.applications import Starlette

from cursor_bridge.dialects.anthropic import AnthropicMessages
from cursor_bridge.dialects.dialect import (
    BodyRenderer,
    Dialect,
    ErrorReport,
    StreamRenderer,
)
from cursor_bridge.dialects.openai_errors import OpenAIErrors
from cursor_bridge.engine import (
    ChatMessage,
    ChatRequest,
    EngineError,
    InvalidChatRequest,
    ModelChoice,
    ModelInfo,
    OutputEvent,
    TextDelta,
    TurnFinished,
    TurnStarted,
    Usage,
)
from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.server.app import create_app
from cursor_bridge.server.endpoint import DialectRoute, dialect_route, run_dialect
from cursor_bridge.server.guards import Guards, install_guards
from cursor_bridge.transport import BackendPool, UnaryResponse

MESSAGES = {"model": "gpt-5.4", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


class RateLimitedPool(BackendPool):
    """A backend whose unary calls (the model list) all answer HTTP 429, bare."""

    def __init__(self) -> None:
        super().__init__()
        self.unary_calls = 0

    async def unary(
        self,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout: float = 30,  # noqa: ASYNC109 -- the signature of BackendPool.unary
    ) -> UnaryResponse:
        self.unary_calls += 1
        return UnaryResponse(429, [("retry-after", "7")], b"")


async def _ask(method: str, path: str, body: object = None) -> tuple[httpx.Response, int]:
    pool = RateLimitedPool()
    backend = CursorBackend(BackendConfig(api_url="http://backend", agent_url="x"), pool)
    transport = httpx.ASGITransport(app=create_app(backend))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            response = await client.request(method, path, json=body)
    finally:
        await backend.aclose()
    return response, pool.unary_calls


async def test_a_429_from_the_model_list_reaches_the_client_as_429_with_retry_after() -> None:
    response, calls = await _ask("GET", "/v1/models")
    assert calls >= 1  # the backend was asked, and refused
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert "resource_exhausted" in error["message"] and "usage limit" in error["message"]


async def test_a_429_from_the_model_list_reaches_an_anthropic_client_in_its_shape() -> None:
    response, _ = await _ask("POST", "/v1/messages", MESSAGES)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert body["request_id"] == response.headers["request-id"]


async def test_errors_of_a_route_are_in_its_dialect_shape_whatever_its_path() -> None:
    """The middleware's refusals (here a 413) answer in the shape of the route's dialect:
    Anthropic's on a route mounted anywhere, OpenAI's on routes of no dialect."""
    app = Starlette(
        routes=[
            dialect_route("/custom/anthropic", AnthropicMessages),
            dialect_route("/custom/echo", Echo),
        ]
    )
    install_guards(app, Guards(max_body_size=100))
    transport = httpx.ASGITransport(app=app)
    big = b"{" + b" " * 500 + b"}"
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        anthropic = await client.post("/custom/anthropic", content=big, headers=headers)
        openai = await client.post("/custom/echo", content=big, headers=headers)
    assert anthropic.status_code == openai.status_code == 413
    assert anthropic.json()["type"] == "error"
    assert anthropic.json()["request_id"] == anthropic.headers["request-id"]
    assert openai.json()["error"]["code"] == "request_too_large"


# -- a new dialect: one class, one route -------------------------------------------------


class Echo(OpenAIErrors, Dialect[ChatRequest]):
    """A toy dialect: `{"model", "say", "stream"}` in; the text as lines or `{"text"}` out."""

    name = "echo"

    def parse(self, body: Any) -> ChatRequest:
        return ChatRequest(
            model=str(body["model"]),
            messages=(ChatMessage("user", str(body["say"])),),
            stream=bool(body.get("stream")),
        )

    def turn_request(self, parsed: ChatRequest) -> ChatRequest:
        return parsed

    def request_param(self, param: str | None) -> str | None:
        return "say" if param == "messages" else param

    def renderer(self, parsed: ChatRequest, input_tokens: int) -> StreamRenderer | BodyRenderer:
        return EchoLines(input_tokens) if parsed.stream else EchoBody()


class EchoLines(StreamRenderer):
    def __init__(self, input_tokens: int) -> None:
        self.input_tokens = input_tokens

    def start(self) -> str:
        return f"in {self.input_tokens}\n"

    def batch(self, events: Sequence[OutputEvent]) -> str:
        return "".join(f"text {e.text}\n" for e in events if isinstance(e, TextDelta))

    def end(self) -> str:
        return "end\n"

    def error(self, report: ErrorReport) -> str:
        return f"error {report.status} {report.message}\n"


class EchoBody(BodyRenderer):
    def __init__(self) -> None:
        self.text: list[str] = []

    def feed(self, events: Sequence[OutputEvent]) -> None:
        self.text += [e.text for e in events if isinstance(e, TextDelta)]

    def body(self) -> dict[str, Any]:
        return {"text": "".join(self.text)}


class FakeEngine:
    """A TurnService without a backend: echoes the user's text in two batches, or fails
    as the request's text says."""

    async def models(self) -> list[ModelInfo]:
        return [ModelInfo("echo-1", "Echo 1")]

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        if request.model != "echo-1":
            raise EngineError("not_found", "no such model", status=404, reason="model_not_found")
        return ModelChoice(ModelInfo("echo-1", "Echo 1"), "echo-1")

    async def stream_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        text = request.messages[-1].text
        if text == "invalid":
            raise InvalidChatRequest("cannot say that", "messages")
        yield [TurnStarted(5), TextDelta(text[:2])]
        if text == "fail late":
            raise EngineError("unavailable", "backend went away", status=503)
        yield [TextDelta(text[2:]), TurnFinished("stop", Usage(output_tokens=2))]


async def _echo(body: dict[str, Any]) -> httpx.Response:
    app = Starlette(routes=[dialect_route("/echo", Echo)])
    app.state.engine = FakeEngine()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.post("/echo", content=json.dumps(body))


async def test_a_new_dialect_streams_through_the_runner() -> None:
    response = await _echo({"model": "echo-1", "say": "hello", "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text == "in 5\ntext he\ntext llo\nend\n"


async def test_a_new_dialect_answers_whole_through_the_runner() -> None:
    response = await _echo({"model": "echo-1", "say": "hello"})
    assert response.status_code == 200 and response.json() == {"text": "hello"}


async def test_a_new_dialect_renders_engine_errors_in_its_shape() -> None:
    unknown = await _echo({"model": "nope", "say": "hello"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    invalid = await _echo({"model": "echo-1", "say": "invalid"})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["param"] == "say"  # the engine's field, in its terms


async def test_a_failure_after_the_stream_started_ends_it_with_the_dialects_error() -> None:
    response = await _echo({"model": "echo-1", "say": "fail late", "stream": True})
    assert response.status_code == 200
    assert response.text == "in 5\ntext fa\nerror 503 backend went away\n"


async def test_a_route_may_start_its_turns_elsewhere() -> None:
    """A route with its own turn source (like Cursor IDE's passthrough) keeps the runner."""

    class Canned:
        input_tokens = 1

        async def batches(self) -> AsyncIterator[list[OutputEvent]]:
            yield [TextDelta("canned")]

        async def aclose(self) -> None:
            pass

    async def canned(request: Any, chat: ChatRequest, parsed: ChatRequest) -> Canned:
        return Canned()

    async def endpoint(request: Any) -> Any:
        return await run_dialect(request, Echo(), canned)

    app = Starlette(routes=[DialectRoute("/echo", endpoint, errors=Echo)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post("/echo", json={"model": "x", "say": "y", "stream": True})
    assert response.text == "in 1\ntext canned\nend\n"
