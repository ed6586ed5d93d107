"""`cursor-bridge trace show FILE`, and the `--record DIR` options of serve and doctor."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .format import TraceError, load_trace
from .recorder import WireRecorder
from .show import format_trace

F = TypeVar("F", bound=Callable[..., Any])


def record_options(command: F) -> F:
    """`--record DIR` and `--record-content`, handed to the command as `recorder`."""

    @functools.wraps(command)
    def wrapper(*args: Any, record: Path | None, record_content: bool, **kwargs: Any) -> Any:
        if record_content and record is None:
            raise click.UsageError("--record-content goes with --record DIR")
        recorder = WireRecorder(record, content=record_content) if record else None
        if recorder is not None:
            click.echo(f"Recording the wire trace to {recorder.path}", err=True)
        try:
            return command(*args, recorder=recorder, **kwargs)
        finally:
            if recorder is not None:
                recorder.close()

    wrapper = click.option(
        "--record-content",
        is_flag=True,
        help="With --record: also keep prompt text, file contents and blob bytes.",
    )(wrapper)
    wrapper = click.option(
        "--record",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        metavar="DIR",
        help="Write a redacted trace of every Run's frames (JSON lines) into DIR.",
    )(wrapper)
    return wrapper  # type: ignore[return-value]


@click.group()
def trace() -> None:
    """Read the wire traces `serve --record` and `doctor --record` write."""


@trace.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fields", is_flag=True, help="Also print each frame's field tree.")
def show(file: Path, fields: bool) -> None:
    """Print a trace readably: one line per frame, both directions."""
    try:
        loaded = load_trace(file)
    except TraceError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        lines = list(format_trace(loaded, fields=fields))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise click.ClickException(f"{file} holds a malformed record ({exc!r})") from None
    for line in lines:
        click.echo(line)
