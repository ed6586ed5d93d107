"""`serve` picks up a login made while it runs, also when it started without one."""

from __future__ import annotations

from cursor_bridge.auth import TokenStore, save_login
from cursor_bridge.compose import open_live_backend
from cursor_bridge.config import Settings
from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.engine.request import ChatMessage, ChatRequest
from cursor_bridge.protocol.errors import ConnectError


async def _turn(live_backend: object) -> str:
    backend = live_backend.backend  # type: ignore[attr-defined]
    request = ChatRequest(model="claude-4.6-sonnet", messages=(ChatMessage("user", "/reply ok"),))
    choice = await backend.resolve(request)
    texts = []
    async for batch in backend.stream_turn(request, choice):
        texts.extend(getattr(event, "text", "") for event in batch)
    return "".join(texts)


async def test_a_login_made_after_start_is_used_without_a_restart() -> None:
    async with EmulatorServer(options=EmulatorOptions(require_auth=True)) as emulator:
        settings = Settings(backend_url=emulator.url)
        live = await open_live_backend(settings, discover=False)
        try:
            assert live.account is None
            try:
                await _turn(live)
            except ConnectError as exc:
                assert exc.code == "unauthenticated"
            else:
                raise AssertionError("a Run without a login must be refused")
            refused = emulator.counters.runs_failed
            # `cursor-bridge login` in another terminal, while serving.
            save_login(TokenStore(), emulator.url, emulator.auth.issue(), "browser")
            assert await _turn(live) == "ok"
            assert emulator.counters.runs_failed == refused
            assert live.provider is not None and live.provider.account is not None
        finally:
            await live.aclose()


async def test_a_logout_while_serving_stops_sending_the_token() -> None:
    async with EmulatorServer(options=EmulatorOptions(require_auth=True)) as emulator:
        store = TokenStore()
        save_login(store, emulator.url, emulator.auth.issue(), "browser")
        live = await open_live_backend(Settings(backend_url=emulator.url), discover=False)
        try:
            assert await _turn(live) == "ok"
            for path, _ in store.accounts():
                store.remove(path)
            try:
                await _turn(live)
            except ConnectError as exc:
                assert exc.code == "unauthenticated"
            else:
                raise AssertionError("a Run after logout must be refused")
        finally:
            await live.aclose()
