"""The `cursor-bridge` command line: the `main` group and its commands, each in its own
module (`serve_cli`, `emulator_cli`, `accounts_cli`, `config_cli`, `setup_cli`, ...).
Known failures end as one line naming the fix (see cli_errors.py)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from . import __version__
from .accounts_cli import login, logout, models, status
from .acp_agent.cli import acp
from .cli_errors import BridgeGroup
from .config import CONFIG_ENV
from .config_cli import config
from .doctor import doctor
from .emulator_cli import emulator
from .keys_cli import keys
from .mcp_host.cli import mcp
from .restrict_cli import restrict
from .serve_cli import serve
from .setup_cli import setup
from .wiretrace.command import trace


@click.group(cls=BridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cursor-bridge")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="FILE",
    help=f"Config file (TOML) to read; default: {CONFIG_ENV} or the platform's config dir.",
)
@click.option("--traceback", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")
def main(config_file: Path | None, traceback: bool) -> None:
    """Serve the models of a Cursor subscription to OpenAI- and Anthropic-speaking clients."""
    if config_file is not None:
        if not config_file.is_file():
            raise click.BadParameter(f"{config_file} does not exist", param_hint="--config")
        # Through the environment, so every Settings() of this process reads it.
        os.environ[CONFIG_ENV] = str(config_file.expanduser().resolve())


main.add_command(login)
main.add_command(status)
main.add_command(logout)
main.add_command(models)
main.add_command(restrict)
main.add_command(config)
main.add_command(setup)
main.add_command(trace)
main.add_command(doctor)
main.add_command(mcp)
main.add_command(acp)
main.add_command(keys)
main.add_command(serve)
main.add_command(emulator)
