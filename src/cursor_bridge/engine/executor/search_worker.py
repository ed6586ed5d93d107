"""The search worker: walks a directory and matches a regular expression, in its own process.

Run as a script (`python -I search_worker.py`, standard library and `re2` only) by
search.py, which passes an already-opened directory descriptor (reached through the path
jail) and a JSON request on stdin, and kills the process when the time limit passes or the
request is cancelled. Matching uses RE2 (linear time, the syntax of ripgrep's regex
engine), so no pattern can backtrack exponentially; the process boundary bounds the rest
(huge trees) and keeps the work off the bridge's event loop and GIL.

The walk follows no symbolic links and opens only regular files (`O_NOFOLLOW`,
`O_NONBLOCK`, type checked on the open descriptor): a FIFO or device is skipped, never read.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Any

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def main() -> None:
    request = json.loads(sys.stdin.read())
    try:
        result = search(request)
    except PatternError as exc:
        result = {"error": str(exc)}
    sys.stdout.write(json.dumps(result))


class PatternError(Exception):
    pass


def compile_pattern(pattern: str, ignore_case: bool, multiline: bool) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    options.dot_nl = multiline
    options.never_nl = False
    try:
        return re2.compile(("(?m)" if multiline else "") + pattern, options)
    except re2.error as exc:
        message = exc.args[0] if exc.args else exc
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        raise PatternError(f"Invalid regular expression: {message}") from None


def search(request: dict[str, Any]) -> dict[str, Any]:
    root_fd: int = request["root_fd"]
    files = walk(
        root_fd,
        request.get("file"),
        request.get("prefix", ""),
        request.get("glob", ""),
        tuple(request.get("type_exts", ())),
        frozenset(request.get("skip_dirs", ())),
    )
    limit: int = request["limit"]
    pattern: str = request.get("pattern", "")
    mode: str = request.get("mode", "content")
    if not pattern:
        names: list[str] = []
        for name, _, _ in files:
            names.append(name)
            if len(names) > limit:
                break
        return {"files": names[:limit], "truncated": len(names) > limit}
    multiline = bool(request.get("multiline"))
    regex = compile_pattern(pattern, bool(request.get("ignore_case")), multiline)
    before, after = int(request.get("before", 0)), int(request.get("after", 0))
    max_file: int = request["max_file"]
    matches: list[list[Any]] = []
    counts: list[list[Any]] = []
    truncated = False
    for name, dir_fd, entry in files:
        text = text_of(dir_fd, entry, max_file)
        if text is None:
            continue
        hits = line_hits(regex, text, multiline)
        if not hits:
            continue
        counts.append([name, len(hits)])
        if mode == "content":
            matches.extend(with_context(name, text, hits, before, after))
        if (len(matches) if mode == "content" else len(counts)) >= limit:
            truncated = True
            break
    return {"matches": matches[:limit], "counts": counts, "truncated": truncated}


def walk(
    root_fd: int,
    single: str | None,
    prefix: str,
    glob: str,
    type_exts: tuple[str, ...],
    skip_dirs: frozenset[str],
) -> Iterator[tuple[str, int, str]]:
    """(display name, directory descriptor, entry name) of each regular file, sorted."""
    if single is not None:
        yield prefix, root_fd, single
        return
    matcher = glob_matcher(glob) if glob else None
    for top, dirs, names, dir_fd in os.fwalk(".", dir_fd=root_fd):
        dirs[:] = sorted(d for d in dirs if d not in skip_dirs)
        base = top[2:] if top.startswith("./") else ""
        for name in sorted(names):
            rel = "/".join(p for p in (prefix, base, name) if p)
            if matcher is not None and not matcher(rel):
                continue
            if type_exts and not name.endswith(type_exts):
                continue
            try:
                if not stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    continue
            except OSError:
                continue
            yield rel, dir_fd, name


def text_of(dir_fd: int, name: str, max_file: int) -> str | None:
    """A searchable file's text; None for binary, huge, special or unreadable files."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_file:
            return None
        data = os.read(fd, max_file + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def line_hits(regex: Any, text: str, multiline: bool) -> list[int]:
    """1-based numbers of the lines that match (a multiline match marks its first line)."""
    if multiline:
        return sorted({text.count("\n", 0, m.start()) + 1 for m in regex.finditer(text)})
    return [n for n, line in enumerate(text.splitlines(), 1) if regex.search(line)]


def with_context(name: str, text: str, hits: list[int], before: int, after: int) -> list[list[Any]]:
    lines = text.splitlines()
    hit_set = set(hits)
    wanted: set[int] = set()
    for number in hits:
        wanted.update(range(max(1, number - before), min(len(lines), number + after) + 1))
    return [[name, n, lines[n - 1], n not in hit_set] for n in sorted(wanted)]


def glob_matcher(glob: str) -> Callable[[str], bool]:
    """ripgrep-style glob: without `/` it matches the file name anywhere, else the path."""
    try:
        regex = re.compile(glob_regex(glob))
    except re.error as exc:
        raise PatternError(f"Invalid glob {glob!r}: {exc}") from None
    if "/" not in glob:
        return lambda rel: bool(regex.fullmatch(rel.rsplit("/", 1)[-1]))
    return lambda rel: bool(regex.fullmatch(rel))


def glob_regex(glob: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "{":
            end = glob.find("}", i)
            if end > i:
                options = glob[i + 1 : end].split(",")
                out.append("(?:" + "|".join(glob_regex(o) for o in options) + ")")
                i = end + 1
                continue
            out.append(re.escape(char))
        elif char == "[":
            end = glob.find("]", i + 1)
            if end > i:
                body = glob[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
                continue
            out.append(re.escape(char))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


if __name__ == "__main__":
    main()
