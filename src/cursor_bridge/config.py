"""Settings in one place: environment (`CURSOR_BRIDGE_*`) overridden by CLI flags."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .protocol.headers import DEFAULT_CLIENT_VERSION

CURSOR_API_URL = "https://api2.cursor.sh"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CURSOR_BRIDGE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8787
    # Cursor's API host (auth, models, server config). The Run host is discovered from it.
    backend_url: str = CURSOR_API_URL
    # Overrides the discovered Run host.
    agent_url: str | None = None
    client_version: str = DEFAULT_CLIENT_VERSION
    ghost_mode: bool = True
    heartbeat_interval: float = 5.0
    idle_timeout: float = 120.0
    model_cache_ttl: float = 300.0
    log_level: str = "info"
    # Requested model name -> Cursor model: a JSON object of glob patterns, first match wins,
    # e.g. CURSOR_BRIDGE_MODEL_MAP='{"claude-opus-*": "gpt-5.4"}'. Unmapped Claude names use
    # the built-in families (see engine/model_map.py).
    model_map: dict[str, str] = Field(default_factory=dict)
    # Demo pacing of the built-in emulator (seconds between streamed words).
    emulator_token_latency: float = 0.0
