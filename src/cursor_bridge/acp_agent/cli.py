"""`cursor-bridge acp`: run as an ACP agent on stdio (stdout carries the protocol only)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import cast

import click

from ..accounts_cli import settings_for
from ..auth import TokenStore
from ..compose import open_backend
from ..config import Settings
from ..live import is_cursor
from ..mcp_host.cli import config_option, open_hosted


@click.command()
@click.option("--emulator", "use_emulator", is_flag=True, help="Use the built-in emulator.")
@click.option(
    "--backend-url", default=None, metavar="URL", help="Cursor API to use (default: Cursor's)."
)
@click.option("--model", default=None, help="Model of new sessions (default: the catalog's first).")
def acp(
    use_emulator: bool, backend_url: str | None, model: str | None, mcp_config: Path | None
) -> None:
    """Serve editors over the Agent Client Protocol on stdin/stdout (Zed, JetBrains, ...)."""
    settings = settings_for(backend_url)
    logging.basicConfig(
        stream=sys.stderr,
        level=settings.log_level.upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    logged_in = TokenStore().current(settings.backend_url) is not None
    if not use_emulator and not logged_in and is_cursor(settings.backend_url):
        click.echo("No Cursor login found: using the BUILT-IN EMULATOR (offline).", err=True)
        use_emulator = True
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_acp(settings, use_emulator, model, mcp_config))


acp.params.append(config_option())


async def _acp(
    settings: Settings, use_emulator: bool, model: str | None, mcp_config: Path | None
) -> None:
    from acp import Agent, run_agent

    from .agent import BridgeAgent

    built = await open_backend(settings, use_emulator=use_emulator)
    backend = built.backend
    hosted = await open_hosted(mcp_config)
    agent = BridgeAgent(backend, hosted, default_model=model)
    try:
        await run_agent(cast(Agent, agent))  # the methods it lacks answer method_not_found
    finally:
        await agent.aclose()
        if hosted is not None:
            await hosted.aclose()
        await built.aclose()
