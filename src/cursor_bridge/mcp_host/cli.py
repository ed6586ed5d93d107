"""`cursor-bridge mcp list`, and the start-up helper `serve` and `acp` share."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .config import McpConfigError, default_config_path, load_config

if TYPE_CHECKING:
    from .host import McpHost

CONFIG_OPTION_HELP = (
    "MCP servers to host (JSON `mcpServers` or TOML [mcp.servers.NAME]); default "
    "$CURSOR_BRIDGE_MCP_CONFIG, else mcp.json / mcp.toml in $CURSOR_BRIDGE_HOME."
)


def config_option() -> click.Option:
    return click.Option(
        ["--mcp-config"],
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=CONFIG_OPTION_HELP,
    )


async def open_hosted(path: Path | None, wait: float = 10.0) -> McpHost | None:
    """Start the configured servers (None when there is no config); raises ClickException."""
    path = path or default_config_path()
    if path is None:
        return None
    try:
        configs = load_config(path)
    except McpConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not configs:
        return None
    from .host import McpHost  # the SDK loads only when servers are configured

    host = McpHost(configs)
    await host.start(wait=wait)
    return host


@click.group()
def mcp() -> None:
    """MCP servers the bridge hosts for the model."""


@mcp.command("list")
@click.option("--wait", type=float, default=10.0, show_default=True, help="Seconds to connect.")
def list_servers(mcp_config: Path | None, wait: float) -> None:
    """Connect to each configured server and show its status and tools."""
    asyncio.run(_list(mcp_config, wait))


list_servers.params.insert(0, config_option())


async def _list(path: Path | None, wait: float) -> None:
    where = path or default_config_path()
    host = await open_hosted(path, wait)
    if host is None:
        click.echo(f"No MCP servers configured ({where or 'no config file found'}).")
        return
    try:
        click.echo(f"MCP servers from {where}:")
        for server in host.stats():
            config = host.connections[server.name].config
            click.echo(f"- {server.name} [{config.transport}] {server.status}: {config.target}")
            if server.last_error:
                click.echo(f"    error: {server.last_error}")
            catalog = host.catalog([])
            wire = {
                o.tool.name: name
                for name, o in (catalog.offered.items() if catalog else ())
                if o.connection.config.name == server.name
            }
            for tool in server.tools:
                click.echo(f"    {tool}  (as {wire.get(tool, '?')})")
    finally:
        await host.aclose()
