"""Which backend `serve` would use, said the same way by `serve`, `status` and `models`.

Without a login for Cursor's real API, `serve` runs the built-in emulator; `models` and
`status` then describe that emulator instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .auth import TokenStore
from .compose import open_backend
from .config import Settings
from .engine.catalog import ModelInfo
from .live import is_cursor


@dataclass(frozen=True, slots=True)
class ServeBackend:
    emulator: bool
    url: str
    logged_in: bool

    def describe(self) -> str:
        if self.emulator:
            return (
                "the BUILT-IN EMULATOR (scripted model, offline): no Cursor login for "
                f"{self.url}; run `cursor-bridge login` to use your subscription"
            )
        who = "with the stored login" if self.logged_in else "without a login"
        return f"{self.url} {who}"


def serve_backend(settings: Settings, force_emulator: bool = False) -> ServeBackend:
    """The backend `serve` picks: the emulator when forced, or when Cursor's real API has no
    stored login; else `settings.backend_url`."""
    logged_in = TokenStore().current(settings.backend_url) is not None
    emulator = force_emulator or (not logged_in and is_cursor(settings.backend_url))
    return ServeBackend(emulator, settings.backend_url.rstrip("/"), logged_in)


async def backend_models(settings: Settings, choice: ServeBackend) -> list[ModelInfo]:
    """The model list of the backend `serve` would use (the emulator's, started in-process,
    when that is the one). Raises ConnectError."""
    built = await open_backend(
        settings, use_emulator=choice.emulator, discover=False, watch_usage=False
    )
    try:
        return await built.backend.catalog.models()
    finally:
        await built.aclose()
