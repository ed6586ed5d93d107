"""The HTTP side's CPU per request alone: the bridge's ASGI app called in-process with a
scripted engine (no backend, no sockets, no server), so the figure is the gate, the guards,
the route, the body parse and the dialect's rendering, and nothing else.

    uv run python -m benchmarks.http_layer [--requests 3000] [--words 1 200]

Reports the best of five passes (CPU time, so other load matters little) for a streamed
chat completion of N words (per request, and per further word for N > 1) and for
`GET /health`, with the number of ASGI messages sent per request. `benchmarks.cpu` gives
the whole bridge's figures against the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator
from typing import Any

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
from cursor_bridge.server.guards import Guards
from tests.support.asgi_scope import http_scope

MODEL = ModelInfo("gpt-5.4", "GPT-5.4")
PASSES = 5


class WordsEngine:
    """A TurnService that answers `words` words, one batch each, at once."""

    def __init__(self, words: int) -> None:
        self.words = words

    async def models(self) -> list[ModelInfo]:
        return [MODEL]

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        return ModelChoice(MODEL, MODEL.id)

    async def stream_turn(
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        yield [TurnStarted(10), TextDelta("w0 ")]
        for i in range(1, self.words):
            yield [TextDelta(f"w{i} ")]
        yield [TurnFinished("stop", Usage(input_tokens=10, output_tokens=self.words))]


class Request:
    """One request as a client sends it, and what the app sent back."""

    def __init__(self, method: str, path: str, body: bytes) -> None:
        client = [(b"user-agent", b"OpenAI/Python 1.0")]
        self.scope = http_scope(method, path, body, client)
        self.body = body
        self.sent = 0

    async def run(self, app: Any) -> None:
        done = asyncio.Event()
        body_sent = False

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": self.body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            self.sent += 1
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app({**self.scope, "state": {}}, receive, send)


async def per_request(app: Any, request: Request, count: int) -> float:
    """Best of PASSES: CPU seconds per request."""
    best = float("inf")
    for _ in range(PASSES):
        gc.collect()
        started = time.process_time()
        for _ in range(count):
            await request.run(app)
        best = min(best, (time.process_time() - started) / count)
    return best


async def measure(words: int, count: int) -> tuple[float, float, float]:
    """(streamed request, /health, ASGI messages per streamed request)."""
    backend = CursorBackend(BackendConfig(api_url="http://127.0.0.1:9", agent_url="x"))
    try:
        app = create_app(backend, guards=Guards(keys=ClientKeys()))
        app.state.engine = WordsEngine(words)
        messages = [{"role": "user", "content": "hi"}]
        body = json.dumps({"model": MODEL.id, "stream": True, "messages": messages}).encode()
        chat = Request("POST", "/v1/chat/completions", body)
        await per_request(app, chat, 100)  # warm up
        chat.sent = 0
        streamed = await per_request(app, chat, count)
        sent = chat.sent / (count * PASSES)
        health = await per_request(app, Request("GET", "/health", b""), count)
    finally:
        await backend.aclose()
    return streamed, health, sent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per pass")
    parser.add_argument("--words", type=int, nargs="+", default=[1, 200])
    args = parser.parse_args()
    one_word = None
    for words in args.words:
        streamed, health, sent = await measure(words, args.requests)
        line = f"streamed chat, {words:4d} words: {streamed * 1e6:7.1f} us CPU per request"
        if words == 1:
            one_word = streamed
        elif one_word is not None:
            line += f"; {(streamed - one_word) / (words - 1) * 1e6:.2f} us per further word"
        print(f"{line} ({sent:.0f} ASGI messages)")
    print(f"GET /health: {health * 1e6:.1f} us CPU per request")


if __name__ == "__main__":
    asyncio.run(main())
