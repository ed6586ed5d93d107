"""The pi_* family (pi_read, pi_bash, pi_edit, pi_write, pi_grep, pi_find, pi_ls): plain-text
results answered one field number higher than the request (rule.py) (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from .files import LsArgs, PathArgs, ReadArgs, WriteArgs
from .rule import Replies, Wire, answer, result_of, text
from .search import GrepArgs
from .shell import CommandArgs

if TYPE_CHECKING:
    from ..events import ExecRequested


@dataclass(frozen=True, slots=True)
class PiBashArgs(CommandArgs):
    """pi_bash_args: `timeout` in seconds (0 = the default)."""

    timeout: float = 0.0


@dataclass(frozen=True, slots=True)
class Edit:
    old_text: str
    new_text: str


@dataclass(frozen=True, slots=True)
class PiEditArgs(PathArgs):
    """pi_edit_args: exact-text replacements (entries that are not objects are dropped)."""

    edits: tuple[Edit, ...] = ()

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> Self:
        edits = args.get("edits") or ()
        return cls(
            text(args, "path"),
            tuple(
                Edit(str(edit.get("old_text", "")), str(edit.get("new_text", "")))
                for edit in (edits if isinstance(edits, list | tuple) else ())
                if isinstance(edit, dict)
            ),
        )


@dataclass(frozen=True, slots=True)
class PiGrepArgs(PathArgs):
    pattern: str = ""
    glob: str = ""
    ignore_case: bool = False
    literal: bool = False
    limit: int = 0

    def as_grep(self) -> GrepArgs:
        """The same search in grep_args' terms (a client's grep tool takes either)."""
        return GrepArgs(
            path=self.path,
            pattern=self.pattern,
            glob=self.glob,
            case_insensitive=self.ignore_case,
            head_limit=self.limit or None,
        )


@dataclass(frozen=True, slots=True)
class PiFindArgs(PathArgs):
    """pi_find_args: `pattern` is a file-name glob."""

    pattern: str = ""
    limit: int = 0


def pi_success(event: ExecRequested, output: str) -> Replies:
    return answer(event, "success", output=output)


def pi_error(event: ExecRequested, error: str) -> Replies:
    return answer(event, "error", error=error)


def pi_rejected(event: ExecRequested, reason: str) -> Replies:
    """pi_edit and pi_write have a `rejected` case; the others answer with `error`."""
    _, result = result_of(event)
    if "rejected" in result.DESCRIPTOR.fields_by_name:
        return answer(event, "rejected", reason=reason)
    return answer(event, "error", error=reason)


WIRE = (
    Wire("pi_read_args", ReadArgs, pi_rejected),
    Wire("pi_bash_args", PiBashArgs, pi_rejected),
    Wire("pi_edit_args", PiEditArgs, pi_rejected),
    Wire("pi_write_args", WriteArgs, pi_rejected),
    Wire("pi_grep_args", PiGrepArgs, pi_rejected),
    Wire("pi_find_args", PiFindArgs, pi_rejected),
    Wire("pi_ls_args", LsArgs, pi_rejected),
)
