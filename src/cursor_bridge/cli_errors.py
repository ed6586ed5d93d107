"""Every command-line failure as one or two lines that name the fix, never a traceback."""

from __future__ import annotations

import errno
import os
import re
import sys
import tomllib
from typing import Any

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError

from .config import Settings, config_path, env_name
from .protocol.errors import ConnectError

_SETTINGS_FIELD = re.compile(r'field "(\w+)"')


def setting_names(field: str) -> str:
    """`port (CURSOR_BRIDGE_PORT)`: how the user can set it, in the config file or env."""
    return f"setting `{field}` ({env_name(field)})" if field in Settings.model_fields else field


def explain(exc: BaseException) -> str | None:
    """The user-facing message for a failure we know how to describe, else None."""
    if isinstance(exc, SettingsError):
        match = _SETTINGS_FIELD.search(str(exc))
        field = match.group(1) if match else "a setting"
        cause = exc.__cause__ or exc.__context__
        detail = f": {cause}" if cause else ""
        hint = " (the environment takes JSON for it)" if field == "model_map" else ""
        return f"invalid {setting_names(field)}{detail}{hint}. Fix or unset it."
    if isinstance(exc, ValidationError):
        return _validation(exc.errors())
    if isinstance(exc, tomllib.TOMLDecodeError):
        return (
            f"the config file {config_path()} is not valid TOML ({exc}). "
            "Fix it, or point --config / CURSOR_BRIDGE_CONFIG at another file."
        )
    if isinstance(exc, ConnectError):
        if exc.code == "unauthenticated":
            return f"{exc.message}. Run `cursor-bridge login` (or use --emulator)."
        if exc.code == "unavailable":
            return (
                f"cannot reach the backend: {exc.message}. Check the network, or "
                "--backend-url / CURSOR_BRIDGE_BACKEND_URL."
            )
        return f"the backend refused the call ({exc.code}): {exc.message}"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"{exc.strerror or exc}: another program uses that port. " + PORT_HINT
    return None


PORT_HINT = "Pass --port with a free port (0 picks one), or stop the other program."


def _validation(errors: list[Any]) -> str:
    lines = []
    for error in errors[:3]:
        loc = [str(part) for part in error["loc"]]
        field = loc[0] if loc else "?"
        inner = f" at {'.'.join(loc[1:])}" if len(loc) > 1 else ""
        if error["type"] == "extra_forbidden":
            lines.append(
                f"unknown setting `{field}` in {config_path()}; "
                "`cursor-bridge config show` lists the valid ones"
            )
        else:
            lines.append(f"invalid {setting_names(field)}{inner}: {error['msg']}")
    return "; ".join(lines) + "."


class BridgeGroup(click.Group):
    """A click group whose commands' known failures end as one clear line (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            # Output piped into `head` and the like: stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:
            message = explain(exc)
            if message is None:
                if ctx.params.get("traceback"):
                    raise
                message = (
                    f"unexpected error: {type(exc).__name__}: {exc}. "
                    "Rerun with `cursor-bridge --traceback ...` and please report it."
                )
            raise click.ClickException(message) from None
