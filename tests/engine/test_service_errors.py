"""The engine's error boundary: the real backend's ConnectErrors leave EngineService as
EngineErrors (translated inside the backend's own generator), and so do a stand-in's."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from cursor_bridge.engine.backend import BackendConfig, CursorBackend
from cursor_bridge.engine.catalog import ModelChoice, ModelInfo
from cursor_bridge.engine.errors import EngineError
from cursor_bridge.engine.output import OutputEvent
from cursor_bridge.engine.request import ChatMessage, ChatRequest
from cursor_bridge.engine.service import EngineService
from cursor_bridge.protocol.errors import ConnectError

CHOICE = ModelChoice(ModelInfo("m", "M"), "m")
REQUEST = ChatRequest("m", (ChatMessage("user", "hi"),))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_backend_is_an_engine_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    backend = CursorBackend(BackendConfig(api_url=url, agent_url=url))
    service = EngineService(backend)
    assert service._translates  # the backend translates as errors leave it
    try:
        with pytest.raises(EngineError) as caught:
            async for _ in service.stream_turn(REQUEST, CHOICE):
                pass
        assert caught.value.status == 503
        assert isinstance(caught.value.__cause__, ConnectError)
        # The backend itself still raises ConnectError.
        with pytest.raises(ConnectError):
            async for _ in backend.stream_turn(REQUEST, CHOICE):
                pass
    finally:
        await backend.aclose()


class _Scripted(CursorBackend):
    async def stream_turn(  # type: ignore[override]
        self, request: ChatRequest, choice: ModelChoice
    ) -> AsyncIterator[list[OutputEvent]]:
        raise ConnectError("resource_exhausted", "slow down")
        yield []


async def test_a_stand_in_backend_is_wrapped_and_translated() -> None:
    backend = _Scripted(BackendConfig(api_url="http://x.invalid", agent_url="http://x.invalid"))
    service = EngineService(backend)
    assert not service._translates
    with pytest.raises(EngineError) as caught:
        async for _ in service.stream_turn(REQUEST, CHOICE):
            pass
    assert caught.value.status == 429


class _RefusingResolve(CursorBackend):
    async def resolve(self, request: ChatRequest) -> ModelChoice:
        raise ConnectError("unauthenticated", "who are you")


async def test_a_failed_resolve_is_an_engine_error() -> None:
    """resolve translates without a context manager (service.py): the same EngineError,
    caused by the ConnectError."""
    backend = _RefusingResolve(
        BackendConfig(api_url="http://x.invalid", agent_url="http://x.invalid")
    )
    with pytest.raises(EngineError) as caught:
        await EngineService(backend).resolve(REQUEST)
    assert caught.value.status == 401
    assert isinstance(caught.value.__cause__, ConnectError)
