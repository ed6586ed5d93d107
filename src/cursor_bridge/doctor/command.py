"""The `cursor-bridge doctor` command: say what it costs, ask, run the steps, report."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

import click

from ..accounts_cli import backend_option
from ..wiretrace import WireRecorder
from ..wiretrace.command import record_options

if TYPE_CHECKING:
    from ..config import Settings
    from .target import Target

EMULATOR_COST = (
    "It runs on the built-in emulator: nothing leaves this machine and nothing is billed."
)
ACCOUNT_COST = (
    "It sends {backend} about a dozen small requests: token refresh, server config, model "
    "list, and 6 short model requests on {model!r} (one-word answers; a few thousand tokens in "
    "all, mostly the backend's own prompt). They count against the account's usage like any "
    "other request."
)
URL_COST = "It sends {backend} 6 short model requests and 2 lookups, without a token."


@click.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask before spending the requests.")
@click.option("--emulator", "use_emulator", is_flag=True, help="Check the built-in emulator.")
@backend_option
@click.option("--model", default="auto", show_default=True, help="Model for the model turns.")
@record_options
def doctor(
    yes: bool,
    use_emulator: bool,
    backend_url: str | None,
    model: str,
    recorder: WireRecorder | None,
) -> None:
    """Check the bridge against the backend, step by step (PASS / FAIL / SKIP per step).

    With a login it talks to the real backend; without one, to the built-in emulator.
    Exits 1 when a step fails.
    """
    from ..accounts_cli import settings_for
    from ..auth import TokenStore
    from .target import choose_target

    settings = settings_for(backend_url)
    target = choose_target(settings.backend_url, TokenStore(), force_emulator=use_emulator)
    click.echo(f"cursor-bridge doctor: checking {target.label}.")
    if target.kind == "account":
        click.echo(ACCOUNT_COST.format(backend=target.api_url, model=model))
    elif target.kind == "url":
        click.echo(URL_COST.format(backend=target.api_url))
    else:
        click.echo(EMULATOR_COST)
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException(
                "not starting without confirmation: standard input is not a terminal. "
                "Pass --yes to run the check."
            )
        if not click.confirm("Start?", default=True):
            raise click.Abort
    logging.basicConfig(level=logging.WARNING, format="  (log) %(name)s: %(message)s")
    logging.getLogger("cursor_bridge.surprises").setLevel(logging.ERROR)  # the report has them
    failed = asyncio.run(_check(settings, target, model, recorder))
    sys.exit(1 if failed else 0)


async def _check(
    settings: Settings, target: Target, model: str, recorder: WireRecorder | None
) -> bool:
    from ..live import is_cursor, live_identity
    from ..protocol.headers import ClientIdentity
    from .report import FAIL, summary
    from .steps import check

    if target.kind == "emulator":
        identity = ClientIdentity(ghost_mode=settings.ghost_mode)
    else:
        identity = await asyncio.to_thread(
            live_identity,
            settings.client_version,
            settings.ghost_mode,
            fetch_version=is_cursor(target.api_url),
        )
    results = await check(target, identity, model, recorder, lambda r: click.echo(r.line()))
    click.echo(summary(results))
    if recorder is not None and recorder.path is not None:
        click.echo(f"Wire trace: {recorder.path} (attach it to a bug report)")
    return any(r.status == FAIL for r in results)
