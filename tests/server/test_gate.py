"""The gate: one ASGI layer that checks, answers the plain routes itself and watches for the
client leaving. What it writes (events that are ready together in one write), what a client
that leaves at each stage causes (the turn cancelled, a 499 in the log, no error), and which
requests it leaves to the router."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.types import Message

from cursor_bridge.engine import (
    ChatRequest,
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
from cursor_bridge.server.client_keys import ClientKeys
from cursor_bridge.server.event_stream import EventStream, Write
from cursor_bridge.server.guards import Guards
from tests.conftest import Stack
from tests.support.asgi_scope import http_scope
from tests.support.polling import wait_for

MODEL = ModelInfo("gpt-5.4", "GPT-5.4")


class ScriptedEngine:
    """A TurnService that yields `batches`, then waits for ever when `hang` is set; records
    whether its turn was closed (cancelled) and how far it got."""

    def __init__(self, batches: list[list[OutputEvent]], hang: bool = False) -> None:
        self.batches = batches
        self.hang = hang
        self.closed = asyncio.Event()
        self.yielded = 0
        self.resolve_error: Exception | None = None

    async def models(self) -> list[ModelInfo]:
        return [MODEL]

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        if self.resolve_error is not None:
            raise self.resolve_error
        return ModelChoice(MODEL, MODEL.id)

    async def stream_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        try:
            for batch in self.batches:
                self.yielded += 1
                yield batch
            if self.hang:
                await asyncio.Event().wait()
        finally:
            self.closed.set()


def app_with(engine: ScriptedEngine) -> Any:
    backend = CursorBackend(BackendConfig(api_url="http://127.0.0.1:9", agent_url="x"))
    app = create_app(backend, guards=Guards(keys=ClientKeys()))
    app.state.engine = engine
    return app


class Client:
    """An ASGI client that sends *body* and then leaves once `leave_when(sent)` is true (or
    when the response is complete)."""

    def __init__(
        self, body: bytes, leave_when: Callable[[list[Message]], bool] = lambda sent: False
    ) -> None:
        self.parts = [body]
        self.leave_when = leave_when
        self.sent: list[Message] = []
        self.changed = asyncio.Event()

    async def receive(self) -> Message:
        if self.parts:
            body = self.parts.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(self.parts)}
        while not (self.leave_when(self.sent) or self._complete()):
            self.changed.clear()
            await self.changed.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        self.changed.set()

    def _complete(self) -> bool:
        return any(m["type"] == "http.response.body" and not m["more_body"] for m in self.sent)

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


async def serve(app: Any, client: Client, method: str, path: str, body: bytes) -> None:
    await asyncio.wait_for(app(http_scope(method, path, body), client.receive, client.send), 5)


def chat_body(stream: bool) -> bytes:
    messages = [{"role": "user", "content": "hi"}]
    return json.dumps({"model": MODEL.id, "stream": stream, "messages": messages}).encode()


def anthropic_body() -> bytes:
    messages = [{"role": "user", "content": "hi"}]
    return json.dumps(
        {"model": MODEL.id, "max_tokens": 16, "stream": True, "messages": messages}
    ).encode()


def last_status(app: Any) -> int:
    records = app.state.request_log.records
    assert records, "the gate hands every model request's record to the request log"
    return int(records[-1].status)


# -- what a stream writes ------------------------------------------------------------------


async def test_events_ready_together_go_out_in_one_write() -> None:
    """Anthropic's message_start goes with the first text (in hand when the answer starts);
    the turn's last output (message_delta) goes with the end (message_stop)."""
    engine = ScriptedEngine(
        [
            [TurnStarted(5), TextDelta("Hel")],
            [TextDelta("lo")],
            [TurnFinished("stop", Usage(input_tokens=5, output_tokens=2))],
        ]
    )
    app = app_with(engine)
    client = Client(anthropic_body())
    await serve(app, client, "POST", "/v1/messages", anthropic_body())
    assert client.sent[0]["type"] == "http.response.start" and client.sent[0]["status"] == 200
    first, middle, last = (body.decode() for body in client.bodies())
    assert "event: message_start" in first and '"text":"Hel"' in first.replace(" ", "")
    assert '"text":"lo"' in middle.replace(" ", "") and "message_stop" not in middle
    assert "event: message_delta" in last and "event: message_stop" in last
    assert client.sent[-1]["more_body"] is False
    assert engine.closed.is_set()


# -- a client that leaves ------------------------------------------------------------------


async def test_a_client_leaving_before_the_first_output_cancels_the_turn() -> None:
    engine = ScriptedEngine([], hang=True)
    app = app_with(engine)
    client = Client(chat_body(True), leave_when=lambda sent: True)
    await serve(app, client, "POST", "/v1/chat/completions", chat_body(True))
    assert engine.closed.is_set(), "the turn was cancelled"
    assert client.sent == [], "nothing is answered to a client that left"
    assert last_status(app) == 499


async def test_a_client_leaving_mid_stream_cancels_the_turn() -> None:
    engine = ScriptedEngine([[TurnStarted(1), TextDelta("first ")]], hang=True)
    app = app_with(engine)
    client = Client(chat_body(True), leave_when=lambda sent: len(sent) >= 2)
    await serve(app, client, "POST", "/v1/chat/completions", chat_body(True))
    assert engine.closed.is_set()
    assert b"first" in client.bodies()[0]
    assert all(m.get("more_body", True) for m in client.sent[1:]), "the stream never ended"
    assert last_status(app) == 200


async def test_a_client_leaving_while_a_whole_answer_is_collected_cancels_the_turn() -> None:
    engine = ScriptedEngine([[TurnStarted(1), TextDelta("first ")]], hang=True)
    app = app_with(engine)
    client = Client(chat_body(False), leave_when=lambda sent: engine.yielded >= 1)
    await serve(app, client, "POST", "/v1/chat/completions", chat_body(False))
    assert engine.closed.is_set()
    assert client.sent == []
    assert last_status(app) == 499


async def test_a_client_leaving_before_its_body_is_complete_gets_no_answer() -> None:
    engine = ScriptedEngine([])
    app = app_with(engine)
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"model": ', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    client = Client(b"")
    scope = http_scope("POST", "/v1/chat/completions", b"x" * 40)
    await asyncio.wait_for(app(scope, receive, client.send), 5)
    assert client.sent == [] and engine.yielded == 0
    assert last_status(app) == 499


async def test_a_client_leaving_cancels_an_event_stream_outside_the_gate() -> None:
    """Served by another app (no gate watching), the stream watches for itself."""
    cancelled = asyncio.Event()

    async def produce(write: Write) -> str:
        await write("data: one\n\n")
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return ""

    client = Client(b"", leave_when=lambda sent: len(sent) >= 2)
    response = EventStream(produce)
    await asyncio.wait_for(response(http_scope("GET", "/x"), client.receive, client.send), 5)
    assert cancelled.is_set()
    assert client.bodies() == [b"data: one\n\n"]


def test_a_client_leaving_before_the_first_output_cancels_the_upstream_run(
    stack: Stack,
) -> None:
    """Against the emulator: the bridge waits for the first output, the client gives up."""
    cancelled_before = stack.counters.runs_cancelled
    payload = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "/fault stall"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            stack.bridge_url + "/v1/chat/completions",
            json={**payload, "stream": True},
            timeout=httpx.Timeout(10, read=0.5),
        )
    wait_for(lambda: stack.counters.runs_cancelled > cancelled_before)


# -- what the gate answers itself, and what it leaves to the router ------------------------


async def ask(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.request(method, path, **kwargs)


async def test_an_unexpected_error_in_a_route_is_a_500_in_its_dialect_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = ScriptedEngine([])
    engine.resolve_error = RuntimeError("a bug")
    app = app_with(engine)
    response = await ask(app, "POST", "/v1/messages", content=anthropic_body(),
                         headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 500
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "api_error"
    assert "a bug" not in response.text, "no internals in the answer"
    assert any("unexpected error" in r.getMessage() for r in caplog.records)
    assert last_status(app) == 500


async def test_requests_the_gate_does_not_answer_reach_the_router() -> None:
    app = app_with(ScriptedEngine([]))
    head = await ask(app, "HEAD", "/health")
    assert head.status_code == 200
    model = await ask(app, "GET", "/v1/models/gpt-5.4")  # a path parameter
    assert model.status_code == 200 and model.json()["id"] == "gpt-5.4"
    wrong_method = await ask(app, "GET", "/v1/messages")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "error", "the router's refusal in the route's dialect"
    unknown = await ask(app, "POST", "/v1/nothing", json={})
    assert unknown.status_code == 404 and "routes:" in unknown.json()["error"]["message"]
