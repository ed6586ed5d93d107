"""Settings in one place: environment (`CURSOR_BRIDGE_*`) overridden by CLI flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CURSOR_API_URL = "https://api2.cursor.sh"
OWN_BACKEND = "cursor"


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
    # Requested model name -> Cursor model: a JSON object of glob patterns, first match wins,
    # e.g. CURSOR_BRIDGE_MODEL_MAP='{"claude-opus-*": "gpt-5.4"}'. Unmapped Claude names use
    # the built-in families (see engine/model_map.py).
    model_map: dict[str, str] = Field(default_factory=dict)
    # Stored responses (`/v1/responses`, `previous_response_id`): in memory, at most this many,
    # each for this many seconds.
    response_store_size: int = 1000
    response_store_ttl: float = 3600.0
    # Tool rounds: wait for parallel calls after the first one; parked-Run lifetime and cap.
    tool_settle: float = 0.1
    session_idle_timeout: float = 900.0
    max_parked_sessions: int = 256
    # Built-in executor for requests without tools: off unless a workspace is given; writes
    # and shell commands need their own switch.
    workspace: Path | None = None
    allow_write: bool = False
    allow_shell: bool = False
    exec_timeout: float = 30.0
    # Persistent state (KV blobs, checkpoints; see store/). Off: kept in memory only.
    persist_state: bool = True
    # Default: $CURSOR_BRIDGE_HOME/state.sqlite3 (else the platform's data dir).
    state_path: Path | None = None
    # Seconds an unused conversation (checkpoint and blobs) is kept.
    state_ttl: float = 7 * 24 * 3600.0
    # Cap on stored blob and checkpoint bytes; least recently used conversations go first.
    state_max_bytes: int = 512 * 1024 * 1024
    # Refresh the access token this many seconds before it expires.
    refresh_margin: float = 300.0
    # Scales the login poll delays (1 s growing to 10 s); tests and demos shrink it.
    login_poll_scale: float = 1.0
    # Demo pacing of the built-in emulator (seconds between streamed words).
    emulator_token_latency: float = 0.0
    # Upstream of `/cursor/chat/completions` (Cursor IDE's BYOK chat stream): "cursor" for
    # this bridge's own backend, or the base URL of an OpenAI-compatible API as given to the
    # OpenAI SDK (e.g. http://localhost:4000/v1 for a LiteLLM proxy), with its API key.
    cursor_chat_upstream: str = OWN_BACKEND
    cursor_chat_upstream_api_key: SecretStr | None = None
    cursor_chat_upstream_timeout: float = 300.0

    @field_validator("cursor_chat_upstream")
    @classmethod
    def _upstream_is_cursor_or_url(cls, value: str) -> str:
        value = value.strip()
        if value != OWN_BACKEND and not value.startswith(("http://", "https://")):
            raise ValueError(f'must be "{OWN_BACKEND}" or an http(s):// base URL')
        return value

    def backend_options(self) -> dict[str, Any]:
        """The engine's tuning (BackendConfig keywords), the same live and on the emulator."""
        from .engine.model_map import ModelMap
        from .store import open_state_store

        return {
            "heartbeat_interval": self.heartbeat_interval,
            "idle_timeout": self.idle_timeout,
            "model_cache_ttl": self.model_cache_ttl,
            "model_map": ModelMap.parse(self.model_map),
            "tool_settle": self.tool_settle,
            "session_idle_timeout": self.session_idle_timeout,
            "max_parked_sessions": self.max_parked_sessions,
            "state": open_state_store(self),
            **self._workspace_options(),
        }

    def _workspace_options(self) -> dict[str, Any]:
        from .engine.context import default_workspace
        from .engine.executor import BuiltinExecutor

        if self.workspace is None:
            return {"workspace": default_workspace()}
        root = self.workspace.expanduser().resolve()
        executor = BuiltinExecutor(
            root,
            allow_write=self.allow_write,
            allow_shell=self.allow_shell,
            timeout=self.exec_timeout,
        )
        workspace = dataclasses.replace(default_workspace(), path=str(root))
        return {"workspace": workspace, "executor": executor.execute}
