"""Search: grep_args (also a glob-only file search) — its arguments and results (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..messages import agent
from .files import PathArgs
from .rule import Replies, Wire, answer, reply, view

if TYPE_CHECKING:
    from ..events import ExecRequested


@dataclass(frozen=True, slots=True)
class GrepArgs(PathArgs):
    """grep_args. None marks a presence-tracked field the request left unset."""

    pattern: str = ""
    glob: str = ""
    output_mode: str = ""
    context_before: int | None = None
    context_after: int | None = None
    context: int | None = None
    case_insensitive: bool = False
    type: str | None = None
    head_limit: int | None = None
    multiline: bool | None = None

    @property
    def mode(self) -> str:
        """The output mode, `content` when unset."""
        return self.output_mode or "content"

    @property
    def lines_before(self) -> int:
        return self.context_before or self.context or 0

    @property
    def lines_after(self) -> int:
        return self.context_after or self.context or 0


@dataclass(frozen=True, slots=True)
class GrepMatch:
    file: str
    line_number: int
    content: str
    is_context: bool = False


def _grep_success(
    event: ExecRequested, workspace: str, mode: str
) -> tuple[Replies, agent.GrepUnionResult]:
    args = view(event, GrepArgs)
    message = reply(event)
    success = message.grep_result.success
    success.pattern = args.pattern
    success.path = args.path
    success.output_mode = mode
    return [message], success.workspace_results[workspace or args.path or "."]


def grep_files(
    event: ExecRequested, files: Sequence[str], *, workspace: str = "", truncated: bool = False
) -> Replies:
    """A files_with_matches answer (also the answer to a glob-only search)."""
    messages, union = _grep_success(event, workspace, "files_with_matches")
    union.files.files.extend(files)
    union.files.total_files = len(files)
    union.files.client_truncated = truncated
    return messages


def grep_content(
    event: ExecRequested,
    matches: Sequence[GrepMatch],
    *,
    workspace: str = "",
    truncated: bool = False,
) -> Replies:
    messages, union = _grep_success(event, workspace, "content")
    content = union.content
    current: agent.GrepFileMatch | None = None
    for match in matches:
        if current is None or current.file != match.file:
            current = content.matches.add(file=match.file)
        current.matches.add(
            line_number=match.line_number,
            content=match.content,
            is_context_line=match.is_context,
        )
    content.total_lines = len(matches)
    content.total_matched_lines = sum(1 for m in matches if not m.is_context)
    content.client_truncated = truncated
    return messages


def grep_count(
    event: ExecRequested,
    counts: Sequence[tuple[str, int]],
    *,
    workspace: str = "",
    truncated: bool = False,
) -> Replies:
    messages, union = _grep_success(event, workspace, "count")
    for file, count in counts:
        union.count.counts.add(file=file, count=count)
    union.count.total_files = len(counts)
    union.count.total_matches = sum(count for _, count in counts)
    union.count.client_truncated = truncated
    return messages


def grep_error(event: ExecRequested, error: str) -> Replies:
    return answer(event, "error", error=error)


WIRE = (Wire("grep_args", GrepArgs, grep_error),)
