"""Reading an exec request's arguments leniently (the model may send any JSON type)."""

from __future__ import annotations

from ...protocol.events import ExecRequested


def str_arg(event: ExecRequested, name: str) -> str:
    value = event.args.get(name, "")
    return value if isinstance(value, str) else str(value)


def int_arg(event: ExecRequested, name: str) -> int:
    try:
        return int(event.args.get(name, 0) or 0)
    except (TypeError, ValueError):
        return 0
