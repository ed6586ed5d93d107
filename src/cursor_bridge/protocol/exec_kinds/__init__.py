"""Cursor's exec kinds on the wire: the result-field rule, typed views of each kind's
arguments, and the builders of each kind's results (pure: no I/O).

One row of wire facts (`Wire`) per kind lives beside its views and builders, by concept:
files.py (read, write, delete, ls), search.py (grep), shell.py (shell, shell stream,
background shell, shell stdin), pi.py (the pi_* family) and services.py (the rest). A test
checks that every kind our schema declares has exactly one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import files, pi, search, services, shell
from .rule import (
    ArgsView,
    NoArgs,
    Replies,
    Wire,
    answer,
    args_message,
    display_member,
    exec_kinds,
    plain_text_answer,
    result_field,
    typed_args,
    view,
)

if TYPE_CHECKING:
    from ..events import ExecRequested

WIRE: dict[str, Wire] = {
    row.kind: row for module in (files, search, shell, pi, services) for row in module.WIRE
}


def parse_args(kind: str, args: Mapping[str, Any]) -> ArgsView:
    """The typed view of a request's JSON-form arguments (NoArgs for a kind without a row)."""
    row = WIRE.get(kind)
    return NoArgs() if row is None else row.view.parse(args)


def refusal(event: ExecRequested, reason: str) -> Replies:
    """`reason` in the kind's own refusal case (`rejected` where it has one, else `error`).

    `[]` for "unknown" (the RunMachine already threw for those).
    """
    if event.kind == "unknown":
        return []
    row = WIRE.get(event.kind)
    if row is None:
        raise ValueError(f"no refusal for exec kind {event.kind!r}")
    return row.refuse(event, reason)


__all__ = [
    "WIRE",
    "ArgsView",
    "NoArgs",
    "Replies",
    "Wire",
    "answer",
    "args_message",
    "display_member",
    "exec_kinds",
    "parse_args",
    "plain_text_answer",
    "refusal",
    "result_field",
    "typed_args",
    "view",
]
