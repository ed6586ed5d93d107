"""Which MCP servers the bridge hosts: read from one JSON or TOML file.

Two shapes are accepted, so the file can be copied from another tool or folded into a wider
config later:

- JSON in the Claude Desktop / Cursor shape: ``{"mcpServers": {"NAME": {...}}}``;
- TOML tables ``[mcp.servers.NAME]`` (or ``[mcp_servers.NAME]``).

Each server is either a local command (``command``, ``args``, ``env``, ``cwd``: stdio) or a
URL (``url``, ``headers``; ``transport`` ``"http"`` for streamable HTTP, the default, or
``"sse"``). Optional per server: ``timeout`` (seconds a call may stay silent; progress
notifications restart it), ``max_call_seconds`` (hard cap), ``enabled``. Anything else is an
error with the server's name in it: a typo must not silently drop a server.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..paths import bridge_home

Transport = Literal["stdio", "http", "sse"]
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_CALL = 600.0
CONFIG_NAMES = ("mcp.json", "mcp.toml")
_KEYS = {
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "transport",
    "type",
    "timeout",
    "max_call_seconds",
    "enabled",
}


class McpConfigError(ValueError):
    """The MCP config file is unreadable or describes a server wrongly."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    name: str
    transport: Transport
    command: str = ""
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    max_call_seconds: float = DEFAULT_MAX_CALL

    @property
    def target(self) -> str:
        """What to show for the server (never its env or headers: they may hold secrets)."""
        if self.transport == "stdio":
            return " ".join((self.command, *self.args))
        return self.url


def default_config_path() -> Path | None:
    """`$CURSOR_BRIDGE_MCP_CONFIG`, else the first of mcp.json / mcp.toml in the bridge home."""
    override = os.environ.get("CURSOR_BRIDGE_MCP_CONFIG")
    if override:
        return Path(override).expanduser()
    home = bridge_home()
    return next((home / name for name in CONFIG_NAMES if (home / name).is_file()), None)


def load_config(path: Path) -> list[ServerConfig]:
    """The enabled servers a config file describes (raises McpConfigError)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise McpConfigError(f"cannot read MCP config {path}: {exc.strerror}") from exc
    return parse_config(text, toml=path.suffix.lower() == ".toml", source=str(path))


def parse_config(text: str, *, toml: bool, source: str = "MCP config") -> list[ServerConfig]:
    try:
        document: Any = tomllib.loads(text) if toml else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise McpConfigError(f"{source} is not valid {'TOML' if toml else 'JSON'}: {exc}") from exc
    if not isinstance(document, dict):
        raise McpConfigError(f"{source} must hold an object")
    servers = _servers_table(document, source)
    out = []
    for name, raw in servers.items():
        server = _server(str(name), raw, source)
        if server is not None:
            out.append(server)
    return out


def _servers_table(document: dict[str, Any], source: str) -> dict[str, Any]:
    for candidate in (
        document.get("mcpServers"),
        (document.get("mcp") or {}).get("servers")
        if isinstance(document.get("mcp"), dict)
        else None,
        document.get("mcp_servers"),
    ):
        if candidate is not None:
            if not isinstance(candidate, dict):
                raise McpConfigError(f"{source}: the servers table must map names to servers")
            return candidate
    raise McpConfigError(f"{source} has no `mcpServers` object or [mcp.servers.NAME] table")


def _server(name: str, raw: Any, source: str) -> ServerConfig | None:
    where = f"{source}: server {name!r}"
    if not name.strip():
        raise McpConfigError(f"{source}: a server name is empty")
    if not isinstance(raw, dict):
        raise McpConfigError(f"{where} must be an object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise McpConfigError(f"{where} has unknown keys: {', '.join(unknown)}")
    if raw.get("enabled", True) is False:
        return None
    timeout = _positive(raw.get("timeout", DEFAULT_TIMEOUT), f"{where}: timeout")
    cap = _positive(raw.get("max_call_seconds", DEFAULT_MAX_CALL), f"{where}: max_call_seconds")
    if "command" in raw:
        if "url" in raw:
            raise McpConfigError(f"{where} has both `command` and `url`")
        command = raw["command"]
        if not isinstance(command, str) or not command:
            raise McpConfigError(f"{where}: `command` must be a non-empty string")
        cwd = raw.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise McpConfigError(f"{where}: `cwd` must be a string")
        return ServerConfig(
            name,
            "stdio",
            command=command,
            args=tuple(_strings(raw.get("args", []), f"{where}: args")),
            env=_string_map(raw.get("env", {}), f"{where}: env"),
            cwd=cwd,
            timeout=timeout,
            max_call_seconds=cap,
        )
    url = raw.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise McpConfigError(f"{where} needs a `command` or an http(s) `url`")
    kind = str(raw.get("transport", raw.get("type", "http"))).lower()
    transport: Transport
    if kind in ("http", "streamable-http", "streamable_http", "streamablehttp"):
        transport = "http"
    elif kind == "sse":
        transport = "sse"
    else:
        raise McpConfigError(f"{where}: transport must be `http` or `sse`, not {kind!r}")
    return ServerConfig(
        name,
        transport,
        url=url,
        headers=_string_map(raw.get("headers", {}), f"{where}: headers"),
        timeout=timeout,
        max_call_seconds=cap,
    )


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise McpConfigError(f"{where} must be a list of strings")
    return list(value)


def _string_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise McpConfigError(f"{where} must map names to strings")
    return {str(k): v for k, v in value.items()}


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise McpConfigError(f"{where} must be a positive number of seconds")
    return float(value)
