"""Extra bridge apps for client tests: request recording and a scripted engine double.

`serve()` runs any ASGI app on a free port in the stack's event loop. `Recorder` keeps every
request body (so a failing real-client test shows what the client sent). `ScriptedBackend`
stands in for `CursorBackend` and answers each turn from a function: it tests a dialect's
rendering of tool calls with real clients independently of the engine, and records the
internal requests the dialect produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.output import OutputEvent
from cursor_bridge.engine.request import ChatRequest
from cursor_bridge.protocol.errors import ConnectError
from tests.conftest import Stack


@contextlib.contextmanager
def serve(stack: Stack, app: ASGIApp) -> Iterator[str]:
    """Serve *app* on 127.0.0.1 in the stack's loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    # lifespan off: the stack owns its backend and closes it.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))

    async def boot() -> asyncio.Task[None]:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
            await asyncio.sleep(0.01)
        return task

    task = stack.call(boot())
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:

        async def stop() -> None:
            server.should_exit = True
            await task

        stack.call(stop())
        sock.close()


@dataclass
class Recorder:
    """ASGI wrapper keeping every request's method, path and body."""

    app: ASGIApp
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        try:
            await self.app(scope, recording_receive, send)
        finally:
            self.requests.append((scope["method"], scope["path"], b"".join(chunks)))

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(b) for m, p, b in self.requests if p == path and m == "POST"]

    def describe(self) -> str:
        """What the client sent, long texts shortened: for failure messages."""

        def short(value: Any) -> Any:
            if isinstance(value, str):
                return value if len(value) < 120 else value[:117] + "..."
            if isinstance(value, list):
                return [short(v) for v in value]
            if isinstance(value, dict):
                return {k: short(v) for k, v in value.items()}
            return value

        lines = []
        for method, path, body in self.requests:
            try:
                shown = json.dumps(short(json.loads(body)), indent=1) if body else ""
            except ValueError:
                shown = body[:500].decode(errors="replace")
            lines.append(f"{method} {path}\n{shown}")
        return "\n".join(lines)


class ScriptedBackend(CursorBackend):
    """A CursorBackend whose turns come from `script(request)`; it never opens a Run."""

    def __init__(self, script: Callable[[ChatRequest], list[OutputEvent]]) -> None:
        # Port 9 (discard): never contacted, as resolve and stream_turn are replaced.
        unused = "http://127.0.0.1:9"
        super().__init__(BackendConfig(api_url=unused, agent_url=unused))
        self.script = script
        self.requests: list[ChatRequest] = []

    async def resolve(self, request: ChatRequest) -> ModelChoice:
        return ModelChoice(ModelInfo(request.model, request.model), request.model)

    async def stream_turn(
        self,
        request: ChatRequest,
        choice: ModelChoice,
        *,
        translate: Callable[[ConnectError], Exception] | None = None,
    ) -> AsyncIterator[list[OutputEvent]]:
        """The scripted output in one batch (it raises nothing, so `translate` is unused)."""
        self.requests.append(request)
        yield self.script(request)
