"""Settings in one place: defaults < config file (TOML) < environment (`CURSOR_BRIDGE_*`) <
command-line flags.

Adding a setting is one field below with a `description`: `cursor-bridge config show`, the
README's settings table (checked by a test) and the config file all follow from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .protocol.auth import CURSOR_API_URL as CURSOR_API_URL  # re-exported: a setting default

OWN_BACKEND = "cursor"
ENV_PREFIX = "CURSOR_BRIDGE_"
CONFIG_ENV = "CURSOR_BRIDGE_CONFIG"

# Read straight from the environment (they locate the files settings come from), so they
# cannot be set in the config file; documented in the same table as the settings.
ENVIRONMENT_ONLY = {
    CONFIG_ENV: (
        "the platform's config dir (`~/.config/cursor-bridge/config.toml` on Linux)",
        "The config file to read (`--config FILE` wins).",
    ),
    "CURSOR_BRIDGE_HOME": (
        "the platform's data dir (`~/.local/share/cursor-bridge` on Linux)",
        "Where logins, the device id and conversation state are kept.",
    ),
    "CURSOR_BRIDGE_MCP_CONFIG": (
        "`mcp.json` or `mcp.toml` in the bridge home, if present",
        "The MCP servers the bridge hosts (`--mcp-config FILE` wins).",
    ),
}


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("cursor-bridge", appauthor=False)) / "config.toml"


def config_path() -> Path:
    """The config file in force: `--config` / `CURSOR_BRIDGE_CONFIG`, else the default one."""
    override = os.environ.get(CONFIG_ENV)
    return Path(override).expanduser() if override else default_config_path()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    host: str = Field(default="127.0.0.1", description="Interface `serve` listens on (`--host`).")
    port: int = Field(
        default=8787, description="Port `serve` listens on; 0 picks a free one (`--port`)."
    )
    log_level: str = Field(
        default="info", description="`debug`, `info` or `warning` (`--log-level`)."
    )
    log_format: str = Field(
        default="text", description="`text` or `json` (one JSON object a line; `--log-format`)."
    )
    backend_url: str = Field(
        default=CURSOR_API_URL,
        description="Cursor's API host (auth, models, server config); an emulator URL to "
        "practise (`--backend-url`).",
    )
    agent_url: str | None = Field(
        default=None, description="Run host; default: the one Cursor's GetServerConfig names."
    )
    website_url: str | None = Field(
        default=None,
        description="Site of the login page; default: cursor.com for Cursor's API, else the "
        "backend itself.",
    )
    client_version: str | None = Field(
        default=None,
        description="`x-cursor-client-version` (`cli-YYYY.MM.DD-sha`); default: the newest "
        "installed cursor-agent build, else the one Cursor's installer names.",
    )
    ghost_mode: bool = Field(
        default=True, description="Send `x-ghost-mode: true` (Cursor's privacy mode) on every call."
    )
    heartbeat_interval: float = Field(default=5.0, description="Seconds between Run heartbeats.")
    idle_timeout: float = Field(
        default=120.0, description="Longest backend silence in a Run before a 504 (seconds)."
    )
    model_cache_ttl: float = Field(default=300.0, description="Seconds the model list is cached.")
    model_map: dict[str, str] = Field(
        default_factory=dict,
        description="Requested model name -> Cursor model: glob patterns, first match wins, "
        'e.g. `{"claude-opus-*": "gpt-5.4"}` (JSON in the environment).',
    )
    response_store_size: int = Field(
        default=1000,
        description="Stored `/v1/responses` kept in memory (least recently used go first).",
    )
    response_store_ttl: float = Field(
        default=3600.0, description="Seconds a stored response is kept."
    )
    tool_settle: float = Field(
        default=0.1, description="Seconds to wait for parallel tool calls after the first one."
    )
    session_idle_timeout: float = Field(
        default=900.0, description="Seconds a parked Run waits for the client's tool results."
    )
    max_parked_sessions: int = Field(
        default=256, description="Parked Runs kept at once (the oldest is closed first)."
    )
    workspace: Path | None = Field(
        default=None,
        description="Run Cursor's built-in read/ls/grep for requests without tools, inside "
        "this directory only (`--workspace`).",
    )
    allow_write: bool = Field(
        default=False,
        description="With a workspace: also write and delete files (`--allow-write`).",
    )
    allow_shell: bool = Field(
        default=False, description="With a workspace: also run shell commands (`--allow-shell`)."
    )
    exec_timeout: float = Field(
        default=30.0, description="Seconds a built-in shell command may run."
    )
    exec_sandbox: bool = Field(
        default=True,
        description="Run built-in shell commands in the bubblewrap sandbox when the machine "
        "can (see README, Tool calling).",
    )
    persist_state: bool = Field(
        default=True,
        description="Keep conversation state (blobs, checkpoints) on disk; off: in memory only.",
    )
    state_path: Path | None = Field(
        default=None, description="The state file; default: `state.sqlite3` in the bridge home."
    )
    state_ttl: float = Field(
        default=7 * 24 * 3600.0, description="Seconds an unused conversation's state is kept."
    )
    state_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        description="Cap on stored state bytes; least recently used conversations go first.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Share state between processes (`serve --workers N`, several hosts) "
        "through this Redis: checkpoints, blobs, stored responses, account cooldowns and "
        "refresh locks (`--redis`); masked in `config show` (it may carry a password).",
    )
    instance_id: str = Field(
        default="",
        description="Names this process in the tool-call ids it hands out (`call_<id>_…`), "
        "so follow-ups can be routed back to it; letters and digits.",
    )
    summarize_threshold: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="Have Cursor summarise a conversation before a turn that would fill this "
        "share of the model's context window.",
    )
    refresh_margin: float = Field(
        default=300.0, description="Refresh the access token this many seconds before it expires."
    )
    login_poll_scale: float = Field(
        default=1.0,
        description="Scales the login poll delays (1 s growing to 10 s); tests shrink it.",
    )
    emulator_token_latency: float = Field(
        default=0.0, description="Seconds between the built-in emulator's streamed words (demos)."
    )
    cursor_chat_upstream: str = Field(
        default=OWN_BACKEND,
        description='Upstream of `/cursor/chat/completions`: "cursor" (this bridge\'s '
        "backend) or an OpenAI-compatible base URL such as `http://127.0.0.1:4000/v1`.",
    )
    cursor_chat_upstream_api_key: SecretStr | None = Field(
        default=None, description="API key sent to that upstream."
    )
    cursor_chat_upstream_timeout: float = Field(
        default=300.0, description="Longest silence between two upstream chunks (seconds)."
    )

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Client API keys accepted besides those of `cursor-bridge keys` "
        "(comma-separated in the environment); once any key exists every request needs one.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names clients reach the bridge by, besides localhost, 127.0.0.1, "
        "[::1] and its address (`--allow-host`; comma-separated in the environment).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins allowed to call the bridge from a browser, with CORS "
        "(`--cors-origin`; comma-separated in the environment).",
    )
    body_read_timeout: float = Field(
        default=60.0, description="Seconds a client has to send its whole request body."
    )
    header_read_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has, once connected or once a request begins, to send "
        "the request line and headers; slower connections are closed.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, config_file_source(settings_cls))

    @field_validator("instance_id")
    @classmethod
    def _instance_id_is_a_name(cls, value: str) -> str:
        if value and not value.isalnum():
            raise ValueError("letters and digits only")
        return value

    @field_validator("api_keys", "allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cursor_chat_upstream")
    @classmethod
    def _upstream_is_cursor_or_url(cls, value: str) -> str:
        value = value.strip()
        if value != OWN_BACKEND and not value.startswith(("http://", "https://")):
            raise ValueError(f'must be "{OWN_BACKEND}" or an http(s):// base URL')
        return value

    @field_validator("model_map")
    @classmethod
    def _model_map_parses(cls, value: dict[str, str]) -> dict[str, str]:
        # Imported here: settings sit below every package, and the engine's facade may
        # import modules that read config's constants.
        from .engine.model_map import ModelMap

        ModelMap.parse(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("log_level", "log_format")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value not in ("debug", "info", "warning"):
            raise ValueError("must be debug, info or warning")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("must be text or json")
        return value

    @property
    def redis(self) -> str | None:
        """The Redis URL in clear, for the code that connects."""
        return self.redis_url.get_secret_value() if self.redis_url is not None else None


def config_file_source(settings_cls: type[BaseSettings]) -> TomlConfigSettingsSource:
    return TomlConfigSettingsSource(settings_cls, toml_file=config_path())


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()
