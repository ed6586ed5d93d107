"""MCP servers hosted by the bridge: configured, connected, offered to the model, called."""

from .config import McpConfigError, ServerConfig, default_config_path, load_config
from .connection import HostedCallError, ServerConnection
from .host import Catalog, McpHost

__all__ = [
    "Catalog",
    "HostedCallError",
    "McpConfigError",
    "McpHost",
    "ServerConfig",
    "ServerConnection",
    "default_config_path",
    "load_config",
]
