"""Reading what a client's tool printed (pure): file bodies, listings, grep hits, shell output.

Coding clients wrap their tool results for their own model: OpenCode puts a file in
`<path>/<type>/<content>` tags with `N: ` line prefixes (older versions `<file>` and
`00001| `), Claude Code prints `cat -n` style `     1→` prefixes and appends
`<system-reminder>` blocks, Codex's `exec_command` puts a `Process exited with code N` /
`Output:` header before the output. Cursor's model must get the bare data back (it copies
line-number prefixes into files it writes otherwise), so these parsers undo the wrappers they
recognise and leave anything else as it is.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass

from ..protocol.exec_kinds.files import Entry
from ..protocol.exec_kinds.search import GrepMatch

_REMINDER = re.compile(r"\s*<system-reminder>.*?</system-reminder>\s*", re.DOTALL)
_METADATA = re.compile(r"\s*<(\w+_metadata)>(.*?)</\1>\s*$", re.DOTALL)
_OPENCODE_READ = re.compile(
    r"^\s*<path>(?P<path>.*?)</path>\s*<type>(?P<type>file|directory)</type>\s*"
    r"<(?P<tag>content|entries)>\n?(?P<body>.*?)\n?</(?P=tag)>",
    re.DOTALL,
)
_OPENCODE_OLD_READ = re.compile(r"^\s*<file>\n?(?P<body>.*?)\n?</file>", re.DOTALL)
# Trailing notices the clients add after a file body.
_READ_NOTICE = re.compile(
    r"\n*\((?:End of file[^)]*|Showing lines[^)]*|Output capped[^)]*|File has more lines[^)]*"
    r"|\d+ entries|Showing \d+ of \d+ entries[^)]*)\)\s*$"
)
_TOTAL_LINES = re.compile(r"\(End of file - total (\d+) lines\)|\(Showing lines \d+-\d+ of (\d+)")
_TRUNCATION_HINTS = ("Use offset=", "Use 'offset'", "Output capped", "File has more lines")
# Line-number prefixes, tried in order; all lines must carry consecutive numbers.
_LINE_PREFIXES = (
    re.compile(r"^\s*(\d+)\u2192(.*)$"),  # Claude Code: "     1→text"
    re.compile(r"^\s*(\d+)\t(.*)$"),  # cat -n
    re.compile(r"^(\d+): ?(.*)$"),  # OpenCode: "1: text"
    re.compile(r"^(\d{5})\| ?(.*)$"),  # older OpenCode: "00001| text"
)
_NOT_FOUND = re.compile(
    r"no such file|not found|does not exist|doesn't exist|cannot find|enoent", re.IGNORECASE
)
_TIMEOUT = re.compile(
    r"timed out|terminated command after exceeding timeout|timeout exceeded", re.IGNORECASE
)


# Short error texts clients return as ordinary results (OpenAI-style tool messages carry no
# error flag): OpenCode's "File not found: ...", "ripgrep execution failed", Node errnos ...
_ERROR_TEXT = re.compile(
    r"^(?:error\b|file not found|no such file|enoent|eisdir|eacces|eperm|permission denied"
    r"|cannot read|offset \d+ is out of range|ripgrep execution failed|tool execution aborted"
    r"|the user (?:rejected|denied)|.*\bis a directory\b)",
    re.IGNORECASE,
)


def looks_like_error(text: str) -> bool:
    """A short (at most three lines) text that reads as a tool failure, not as data."""
    stripped = strip_reminders(text).strip()
    return bool(stripped) and stripped.count("\n") <= 2 and bool(_ERROR_TEXT.match(stripped))


def strip_reminders(text: str) -> str:
    """Drop `<system-reminder>` blocks (Claude Code appends them to tool results)."""
    return _REMINDER.sub("\n", text).strip("\n") if "<system-reminder>" in text else text


def looks_not_found(text: str) -> bool:
    return bool(_NOT_FOUND.search(text))


# -- files --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileText:
    """A file body recovered from a read tool's output."""

    content: str
    truncated: bool = False
    directory_entries: tuple[str, ...] | None = None  # set when the client listed a directory
    total_lines: int | None = None  # the whole file's, when the client said


def file_text(output: str) -> FileText:
    """The bare file content of a read result (wrappers and line numbers removed)."""
    text = strip_reminders(output)
    truncated = any(hint in text for hint in _TRUNCATION_HINTS)
    total = _TOTAL_LINES.search(text)
    total_lines = int(total.group(1) or total.group(2)) if total else None
    match = _OPENCODE_READ.match(text)
    if match:
        body = _READ_NOTICE.sub("", match.group("body"))
        if match.group("type") == "directory":
            entries = tuple(line for line in body.splitlines() if line.strip())
            return FileText("", truncated, entries)
        return FileText(strip_line_numbers(body), truncated, None, total_lines)
    match = _OPENCODE_OLD_READ.match(text)
    if match:
        body = strip_line_numbers(_READ_NOTICE.sub("", match.group("body")))
        return FileText(body, truncated, None, total_lines)
    return FileText(strip_line_numbers(text), truncated)


def strip_line_numbers(text: str) -> str:
    """Remove `N→` / `N\\t` / `N: ` / `0000N| ` prefixes when every line has one, in order."""
    lines = text.split("\n")
    if not text or not lines:
        return text
    for pattern in _LINE_PREFIXES:
        matches = [pattern.match(line) for line in lines]
        if not all(matches):
            continue
        numbers = [int(m.group(1)) for m in matches if m]
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            continue
        return "\n".join(m.group(2) for m in matches if m)
    return text


# -- listings -----------------------------------------------------------------------------

_LISTING_NOISE = re.compile(
    r"^\s*(?:\(.*\)|No files found\.?|No matches found\.?|Found \d+ (?:files?|matches?).*"
    r"|NOTE:.*|There are more than .*|total \d+)\s*$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^(?:[-*]\s+|[\u251c\u2514]\u2500\u2500\s*|\u2502\s*)+")


def listing_entries(output: str, root: str) -> list[Entry]:
    """Entries of a directory listing, relative to `root`.

    Understands an indented tree (OpenCode `list`, Claude Code `LS`: a header line naming the
    root, then children indented under their parents, directories ending in `/`), OpenCode's
    `read` of a directory, and flat lists of paths or names (`ls -1Ap`, glob output).
    """
    text = strip_reminders(output)
    read = file_text(text)
    if read.directory_entries is not None:
        return [_entry(name, root) for name in read.directory_entries]
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip() and not _LISTING_NOISE.match(line)]
    if not lines:
        return []
    header = _BULLET.sub("", lines[0].strip())
    tree = len(lines) > 1 and header.startswith("/") and header.endswith("/")
    if tree and all(line[:1].isspace() for line in lines[1:]):
        return _tree_entries(lines[1:])
    return [_entry(_BULLET.sub("", line.strip()), root) for line in lines]


def _entry(name: str, root: str) -> Entry:
    is_dir = name.endswith("/")
    path = name.rstrip("/")
    root = root.rstrip("/")
    if root and path.startswith(root + "/"):
        path = path[len(root) + 1 :]
    elif path.startswith("./"):
        path = path[2:]
    return Entry(path, is_dir)


def _tree_entries(lines: list[str]) -> list[Entry]:
    out: list[Entry] = []
    stack: list[tuple[int, str]] = []  # (indent, relative dir path)
    for line in lines:
        indent = len(line) - len(line.lstrip())
        name = _BULLET.sub("", line.strip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        rel = posixpath.join(parent, name.rstrip("/"))
        is_dir = name.endswith("/")
        out.append(Entry(rel, is_dir))
        if is_dir:
            stack.append((indent, rel))
    return out


# -- grep ---------------------------------------------------------------------------------

_HIT = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<text>.*)$")
_COUNT = re.compile(r"^(?P<file>.+?):(?P<count>\d+)$")
_OPENCODE_FILE = re.compile(r"^(?P<file>\S.*):$")
_OPENCODE_LINE = re.compile(r"^\s+Line (?P<line>\d+): ?(?P<text>.*)$")


@dataclass(slots=True)
class GrepText:
    matches: list[GrepMatch]
    files: list[str]
    counts: list[tuple[str, int]]
    truncated: bool = False


def grep_text(output: str, workspace: str = "") -> GrepText:
    """Hits, files and per-file counts found in a grep/glob tool's output.

    Formats: `path:line:text` (ripgrep, grep -n, Claude Code's content mode), OpenCode's
    `path:` + `  Line N: text` blocks, `path:count` (count mode) and bare paths.
    """
    text = strip_reminders(output)
    result = GrepText([], [], [], truncated="truncated" in text.lower())
    current = ""
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line.strip() or line.strip() == "--" or _LISTING_NOISE.match(line):
            continue
        block = _OPENCODE_LINE.match(line)
        if block and current:
            result.matches.append(GrepMatch(current, int(block["line"]), block["text"]))
            continue
        hit = _HIT.match(line)
        if hit:
            file = _relative(hit["file"], workspace)
            result.matches.append(GrepMatch(file, int(hit["line"]), hit["text"]))
            _add_file(result.files, file)
            continue
        header = _OPENCODE_FILE.match(line)
        if header:
            current = _relative(header["file"], workspace)
            _add_file(result.files, current)
            continue
        count = _COUNT.match(line)
        if count:
            result.counts.append((_relative(count["file"], workspace), int(count["count"])))
            continue
        _add_file(result.files, _relative(line.strip(), workspace))
    if not result.counts and result.matches:
        per_file: dict[str, int] = {}
        for match in result.matches:
            per_file[match.file] = per_file.get(match.file, 0) + 1
        result.counts = list(per_file.items())
    return result


def _add_file(files: list[str], file: str) -> None:
    if file and (not files or files[-1] != file) and file not in files:
        files.append(file)


def _relative(path: str, workspace: str) -> str:
    root = workspace.rstrip("/")
    if root and path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return path


# -- shell --------------------------------------------------------------------------------

_CODEX_HEADER = re.compile(
    r"^(?:Chunk ID|Wall time|Process exited with code|Process running with session ID"
    r"|Original token count|Exit code|Total output lines)\b.*$"
)
_CODEX_EXIT = re.compile(r"^(?:Process exited with code|Exit code:)\s*(-?\d+)", re.MULTILINE)
_CLAUDE_EXIT = re.compile(r"^(?:Error: )?Exit code (\d+)\n?")


@dataclass(frozen=True, slots=True)
class ShellText:
    output: str
    exit_code: int | None
    timed_out: bool = False


def shell_text(output: str) -> ShellText:
    """Output and exit code of a shell tool's result, client wrappers removed.

    Knows Codex `exec_command` / `shell` headers (and `shell`'s JSON form), Claude Code's
    `Exit code N` prefix, and OpenCode's trailing `<bash_metadata>` block. The exit code is
    None when the client did not report one.
    """
    text = strip_reminders(output)
    timed_out = bool(_TIMEOUT.search(text))
    codex = _codex_shell(text)
    if codex is not None:
        return ShellText(codex[1], codex[0], timed_out)
    metadata = _METADATA.search(text)
    if metadata:
        text = text[: metadata.start()]
    claude = _CLAUDE_EXIT.match(text)
    if claude:
        return ShellText(text[claude.end() :], int(claude.group(1)), timed_out)
    return ShellText(text, None, timed_out)


def _codex_shell(text: str) -> tuple[int | None, str] | None:
    stripped = text.strip()
    if stripped.startswith("{") and '"output"' in stripped:
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("output"), str):
            metadata = data.get("metadata")
            code = metadata.get("exit_code") if isinstance(metadata, dict) else None
            return (code if isinstance(code, int) else None), data["output"]
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line == "Output:":
            header = "\n".join(lines[:index])
            if index and all(_CODEX_HEADER.match(h) for h in lines[:index] if h.strip()):
                code = _CODEX_EXIT.search(header)
                return (int(code.group(1)) if code else None), "\n".join(lines[index + 1 :])
            return None
        if line.strip() and not _CODEX_HEADER.match(line):
            return None
    return None


def last_int(text: str) -> int | None:
    """The last whole number printed on its own line (a pid echoed by `echo $!`)."""
    for line in reversed(text.strip().splitlines()):
        if line.strip().isdigit():
            return int(line.strip())
    return None
