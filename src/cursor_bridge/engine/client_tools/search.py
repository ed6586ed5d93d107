"""grep_args, pi_grep_args and pi_find_args on the client's grep, glob or shell tool, and
the search results back."""

from __future__ import annotations

from typing import Any

from ...protocol.events import ExecRequested
from ...protocol.exec_kinds import Replies, view
from ...protocol.exec_kinds.pi import PiFindArgs, PiGrepArgs
from ...protocol.exec_kinds.search import GrepArgs, grep_content, grep_count, grep_error, grep_files
from .. import tool_output as out
from ..vocabulary import ClientCall, Toolbox
from .calls import ClientOutput, fill, quote, shell_call


def map_grep(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    return grep_call(view(event, GrepArgs), box)


def map_pi_grep(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    return grep_call(view(event, PiGrepArgs).as_grep(), box)


def map_pi_find(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, PiFindArgs)
    return glob_call(box, args.pattern or "**/*", args.path)


def grep_call(args: GrepArgs, box: Toolbox) -> ClientCall | None:
    """The client's grep tool, a glob search when there is no pattern, else grep in a shell."""
    pattern, path, glob = args.pattern, args.path, args.glob
    if not pattern:
        return glob_call(box, glob or "**/*", path) if glob else None
    mode = args.mode
    tool = box.find("grep")
    if tool is not None:
        values: dict[str, Any] = {
            "pattern": pattern,
            "dir": path or None,
            "include": glob or None,
            "output_mode": mode,
            "ignore_case": True if args.case_insensitive else None,
            "line_numbers": True if mode == "content" else None,
            "context": args.context,
            "before": args.context_before,
            "after": args.context_after,
            "head_limit": args.head_limit,
            "type": args.type,
            "multiline": args.multiline,
        }
        return fill(box, tool, "grep", values)
    flags = {"files_with_matches": "-rlE", "count": "-rcE"}.get(mode, "-rnE")
    if args.case_insensitive:
        flags += "i"
    include = f" --include={quote(glob)}" if glob else ""
    command = (
        f"grep {flags} --exclude-dir=.git --exclude-dir=node_modules{include} "
        f"-- {quote(pattern)} {quote(path or '.')}"
    )
    if mode == "count":
        command += " | grep -v ':0$'"
    return shell_call(box, command, label=f"Search for {pattern[:40]}", role="grep")


def glob_call(box: Toolbox, glob: str, path: str) -> ClientCall | None:
    tool = box.find("glob")
    if tool is not None:
        return fill(box, tool, "glob", {"pattern": glob, "dir": path or None})
    name = glob.rsplit("/", 1)[-1] if "/" in glob else glob
    command = (
        f"find {quote(path or '.')} -name .git -prune -o -name node_modules -prune -o "
        f"-type f -name {quote(name)} -print"
    )
    return shell_call(box, command, label=f"Find {glob}", role="glob")


def grep_result(event: ExecRequested, result: ClientOutput) -> Replies:
    args = view(event, GrepArgs)
    text, workspace = result.text, result.workspace
    # grep exits 1 when nothing matched: an empty answer, not a failure.
    no_match = result.exit_code == 1 and not text.strip()
    if result.failed and not no_match:
        return grep_error(event, text or "the search failed")
    parsed = out.grep_text(text, workspace)
    prose = any(" " in f for f in parsed.files)
    pathless = not any("/" in f or "." in f for f in parsed.files)
    if parsed.files and prose and pathless and not parsed.matches and not parsed.counts:
        # Words, and nothing that looks like a path: the tool said something else (an error).
        return grep_error(event, text.strip())
    truncated = parsed.truncated
    if not args.pattern or result.role == "glob" or args.mode == "files_with_matches":
        return grep_files(event, parsed.files, workspace=workspace, truncated=truncated)
    if args.mode == "count":
        return grep_count(event, parsed.counts, workspace=workspace, truncated=truncated)
    if not parsed.matches and parsed.files:
        # The tool listed files only (e.g. Claude Code's default mode).
        return grep_files(event, parsed.files, workspace=workspace, truncated=truncated)
    return grep_content(event, parsed.matches, workspace=workspace, truncated=truncated)
