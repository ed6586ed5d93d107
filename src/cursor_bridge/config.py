"""Settings in one place: environment (`CURSOR_BRIDGE_*`) overridden by CLI flags."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

CURSOR_API_URL = "https://api2.cursor.sh"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CURSOR_BRIDGE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8787
    # Cursor's API host (auth, models, server config). The Run host is discovered from it.
    backend_url: str = CURSOR_API_URL
    # Overrides the discovered Run host.
    agent_url: str | None = None
    # The login page's site; default: cursor.com for Cursor's API, else the backend itself.
    website_url: str | None = None
    # `x-cursor-client-version`; default: the newest installed cursor-agent build, else the
    # one Cursor's installer names (live mode), else a built-in recent one.
    client_version: str | None = None
    ghost_mode: bool = True
    heartbeat_interval: float = 5.0
    idle_timeout: float = 120.0
    model_cache_ttl: float = 300.0
    log_level: str = "info"
    # Refresh the access token this many seconds before it expires.
    refresh_margin: float = 300.0
    # Scales the login poll delays (1 s growing to 10 s); tests and demos shrink it.
    login_poll_scale: float = 1.0
    # Demo pacing of the built-in emulator (seconds between streamed words).
    emulator_token_latency: float = 0.0
