"""The bridge's own sandboxed executor for Cursor's built-in tools (`serve --workspace DIR`).

Used when the client offers no tools (seed 004): the model still asks for reads, listings,
searches and shell commands, and with a workspace configured the bridge answers them
itself, confined to that directory. Reads, listings and searches are always allowed there;
writes and deletes need `allow_write`, shell commands `allow_shell` (run with a minimal
environment: the bridge's own may hold credentials). Every path is resolved (symlinks
followed) and must stay inside the workspace. Anything else is refused with a
reason that tells the model what is disabled and which flag enables it. Note that
`allow_shell` confines a command's working directory, not the command: a shell command runs
with the bridge user's rights (only a timeout, an output cap and process-group cleanup
apply).

Search is plain Python (`re` + `os.walk`, skipping .git and node_modules and binary or huge
files) rather than ripgrep: the same behaviour on every machine, no external binary. Results
are capped (`max_results`) and say when they were cut.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import fnmatch
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..protocol.events import ExecRequested
from ..protocol.messages import agent
from . import natives
from .adapters import write_content

DEFAULT_OUTPUT_CAP = 256 * 1024
SKIP_DIRS = frozenset({".git", "node_modules", ".hg", ".svn", "__pycache__", ".venv"})
MAX_SEARCH_FILE = 2 * 1024 * 1024
MAX_READ_FILE = 16 * 1024 * 1024
_TYPE_EXTENSIONS = {
    "py": (".py", ".pyi"),
    "js": (".js", ".mjs", ".cjs", ".jsx"),
    "ts": (".ts", ".tsx", ".mts", ".cts"),
    "rust": (".rs",),
    "go": (".go",),
    "java": (".java",),
    "c": (".c", ".h"),
    "cpp": (".cpp", ".cc", ".cxx", ".hpp", ".hh", ".h"),
    "md": (".md", ".markdown"),
    "json": (".json",),
    "yaml": (".yaml", ".yml"),
    "toml": (".toml",),
    "html": (".html", ".htm"),
    "css": (".css", ".scss"),
    "sh": (".sh", ".bash"),
    "rb": (".rb",),
}


class PathRejected(Exception):
    """A path outside the workspace (absolute, `..` or through a symlink)."""


@dataclass(frozen=True, slots=True)
class _Flag:
    what: str
    flag: str


_WRITE = _Flag("Writing and deleting files", "--allow-write")
_SHELL = _Flag("Running shell commands", "--allow-shell")


class BuiltinExecutor:
    """Runs built-in exec requests inside `workspace`; see the module docstring."""

    def __init__(
        self,
        workspace: Path,
        *,
        allow_write: bool = False,
        allow_shell: bool = False,
        timeout: float = 30.0,
        output_cap: int = DEFAULT_OUTPUT_CAP,
        max_results: int = 1000,
        max_ls_entries: int = 1000,
        max_ls_depth: int = 3,
    ) -> None:
        self.workspace = Path(os.path.abspath(workspace))
        self.real_workspace = self.workspace.resolve()
        self.allow_write = allow_write
        self.allow_shell = allow_shell
        self.timeout = timeout
        self.output_cap = output_cap
        self.max_results = max_results
        self.max_ls_entries = max_ls_entries
        self.max_ls_depth = max_ls_depth

    # -- dispatch -----------------------------------------------------------------------

    async def execute(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        """The answer to one exec request (the caller sends stream_close after it)."""
        kind = event.kind
        try:
            if kind in ("shell_args", "shell_stream_args", "pi_bash_args"):
                return await self._shell(event)
            if kind in _BLOCKING:
                return await asyncio.to_thread(getattr(self, _BLOCKING[kind]), event)
        except PathRejected as exc:
            return natives.refusal(event, str(exc))
        return self._refuse(event)

    def _refuse(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        kind = event.kind
        if kind == "unknown":
            return []
        if kind == "list_mcp_resources_exec_args":
            return natives.list_mcp_resources_empty(event)
        reasons = {
            "background_shell_spawn_args": "Background processes are not supported by the "
            "bridge's executor; run the command in the foreground instead.",
            "fetch_args": "Fetching URLs is not available: the bridge's executor works on "
            "local files only.",
            "diagnostics_args": "Diagnostics are not available here; run the project's "
            "linter or type checker with a shell command instead (needs --allow-shell).",
            "read_mcp_resource_exec_args": "No MCP servers are connected.",
            "mcp_args": "No client tools are available in this conversation.",
        }
        reason = reasons.get(kind, "This tool is not available in this environment.")
        return natives.refusal(event, reason)

    def _disabled(self, event: ExecRequested, flag: _Flag) -> list[agent.ExecClientMessage]:
        reason = (
            f"{flag.what} is disabled on this bridge (start it with {flag.flag} to enable "
            "it). Answer without it, or tell the user what you would run."
        )
        return natives.refusal(event, reason)

    # -- paths --------------------------------------------------------------------------

    def resolve(self, raw: str, *, follow_last: bool = True) -> Path:
        """`raw` (relative to the workspace, or absolute inside it) as a checked real path.

        Raises PathRejected for absolute paths outside the workspace, `..` escapes and
        symlinks whose target lies outside. With `follow_last=False` a final symlink is not
        followed (deleting a link removes the link, not its target).
        """
        if "\0" in raw:
            raise PathRejected("Invalid path (contains a NUL byte).")
        candidate = Path(raw) if raw else self.workspace
        if not candidate.is_absolute():
            candidate = self.workspace / candidate
        lexical = Path(os.path.normpath(candidate))
        if not (_inside(lexical, self.workspace) or _inside(lexical, self.real_workspace)):
            raise PathRejected(
                f"{raw or '.'} is outside the workspace {self.workspace}; only paths inside "
                "it can be used."
            )
        if not follow_last and lexical != self.workspace:
            real = lexical.parent.resolve() / lexical.name
        else:
            real = lexical.resolve()
        if not _inside(real, self.real_workspace):
            raise PathRejected(
                f"{raw} resolves (through a symbolic link) outside the workspace "
                f"{self.workspace}; only paths inside it can be used."
            )
        return real

    def _display(self, path: Path) -> str:
        """A workspace-relative `/`-separated path (what ripgrep prints)."""
        try:
            rel = path.relative_to(self.real_workspace)
        except ValueError:
            return path.as_posix()
        return rel.as_posix() or "."

    # -- files --------------------------------------------------------------------------

    def _read(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        path = self.resolve(_str(event, "path"))
        if not path.exists():
            return natives.read_not_found(event)
        if path.is_dir():
            return natives.read_invalid_file(event, "This path is a directory; list it with ls.")
        try:
            if path.stat().st_size > MAX_READ_FILE:
                return natives.read_invalid_file(
                    event, "The file is too large to read whole; search it with grep instead."
                )
            data = path.read_bytes()
        except PermissionError:
            message = natives.reply(event)
            message.read_result.permission_denied.path = _str(event, "path")
            return [message]
        except OSError as exc:
            return natives.read_error(event, exc.strerror or str(exc))
        if b"\0" in data[:8192]:
            return natives.read_invalid_file(event, "This is a binary file.")
        text = data.decode("utf-8", errors="replace")
        lines = text.splitlines(keepends=True)
        offset, limit = _int(event, "offset"), _int(event, "limit")
        start = max(offset - 1, 0)
        selected = lines[start : start + limit] if limit > 0 else lines[start:]
        content = "".join(selected)
        truncated = len(selected) < len(lines)
        if len(content) > self.output_cap:
            content = content[: self.output_cap]
            truncated = True
        if event.kind == "pi_read_args":
            return natives.pi_success(event, content)
        return natives.read_success(
            event, content, total_lines=len(lines), file_size=len(data), truncated=truncated
        )

    def _write(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        if not self.allow_write:
            return self._disabled(event, _WRITE)
        path = self.resolve(_str(event, "path"))
        raw = event.args.get("file_bytes")
        content = write_content(event)
        if raw:
            try:
                data = base64.b64decode(str(raw), validate=True)
            except binascii.Error:
                return natives.write_error(event, "Unreadable file content.")
        else:
            data = (content or "").encode()
        if path.is_dir():
            return natives.write_error(event, "This path is a directory.")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.resolve(str(path.parent))  # created dirs must not lead outside either
            tmp = path.with_name(f".{path.name}.cursor-bridge.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except PermissionError as exc:
            return natives.write_permission_denied(event, exc.strerror or str(exc))
        except OSError as exc:
            return natives.write_error(event, exc.strerror or str(exc))
        if event.kind == "pi_write_args":
            return natives.pi_success(event, f"Wrote {len(data)} bytes to {_str(event, 'path')}")
        return natives.write_success(
            event, content if content is not None else "", file_size=len(data)
        )

    def _delete(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        if not self.allow_write:
            return self._disabled(event, _WRITE)
        raw = _str(event, "path")
        path = self.resolve(raw, follow_last=False)
        if not path.exists() and not path.is_symlink():
            return natives.delete_not_found(event)
        if path.is_dir() and not path.is_symlink():
            return natives.delete_not_file(event, "directory")
        try:
            data = b"" if path.is_symlink() else path.read_bytes()
            path.unlink()
        except PermissionError as exc:
            message = natives.reply(event)
            denied = message.delete_result.permission_denied
            denied.path, denied.client_visible_error = raw, exc.strerror or str(exc)
            return [message]
        except OSError as exc:
            return natives.delete_error(event, exc.strerror or str(exc))
        previous = data.decode("utf-8", errors="replace") if b"\0" not in data[:8192] else ""
        return natives.delete_success(
            event, file_size=len(data), prev_content=previous[: self.output_cap]
        )

    def _edit(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        """pi_edit: exact-text replacements, each of which must match exactly once."""
        if not self.allow_write:
            return self._disabled(event, _WRITE)
        path = self.resolve(_str(event, "path"))
        if not path.is_file():
            return natives.pi_error(event, f"File not found: {_str(event, 'path')}")
        text = path.read_text(encoding="utf-8", errors="replace")
        for edit in event.args.get("edits") or []:
            old, new = str(edit.get("old_text", "")), str(edit.get("new_text", ""))
            found = text.count(old) if old else 0
            if found != 1:
                return natives.pi_error(
                    event, f"old_text must match exactly once; it matched {found} times."
                )
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")
        return natives.pi_success(event, f"Edited {_str(event, 'path')}")

    # -- ls -----------------------------------------------------------------------------

    def _ls(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        raw = _str(event, "path")
        path = self.resolve(raw)
        if not path.is_dir():
            error = "No such directory." if not path.exists() else "Not a directory."
            if event.kind == "pi_ls_args":
                return natives.pi_error(event, error)
            return natives.ls_error(event, error)
        ignore = [str(p) for p in event.args.get("ignore") or []]
        depth = 1 if event.kind == "pi_ls_args" else self.max_ls_depth
        entries, processed = self._walk_tree(path, ignore, depth)
        if event.kind == "pi_ls_args":
            limit = _int(event, "limit") or self.max_ls_entries
            names = [e.path + ("/" if e.is_dir else "") for e in entries][:limit]
            return natives.pi_success(event, "\n".join(names))
        root = str(Path(raw)) if raw and Path(raw).is_absolute() else str(path)
        return natives.ls_success(event, natives.ls_tree(root, entries, processed=processed))

    def _walk_tree(
        self, root: Path, ignore: list[str], max_depth: int
    ) -> tuple[list[natives.Entry], set[str]]:
        entries: list[natives.Entry] = []
        processed: set[str] = set()
        queue: list[tuple[Path, str, int]] = [(root, "", 1)]
        while queue and len(entries) < self.max_ls_entries:
            directory, rel, depth = queue.pop(0)
            try:
                children = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            processed.add(rel)
            for child in children:
                child_rel = f"{rel}/{child.name}" if rel else child.name
                if any(fnmatch.fnmatch(child.name, pat) for pat in ignore):
                    continue
                is_dir = child.is_dir(follow_symlinks=False)
                entries.append(natives.Entry(child_rel, is_dir))
                if is_dir and child.name not in SKIP_DIRS and depth < max_depth:
                    queue.append((Path(child.path), child_rel, depth + 1))
                if len(entries) >= self.max_ls_entries:
                    break
        return entries, processed

    # -- grep / glob --------------------------------------------------------------------

    def _grep(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        args = event.args
        if event.kind in ("pi_grep_args", "pi_find_args"):
            return self._pi_search(event)
        pattern, glob = _str(event, "pattern"), _str(event, "glob")
        root = self.resolve(_str(event, "path"))
        workspace = str(self.workspace)
        head = _int(event, "head_limit") or self.max_results
        limit = min(head, self.max_results)
        mode = _str(event, "output_mode") or "content"
        type_exts = _TYPE_EXTENSIONS.get(_str(event, "type"), ()) if args.get("type") else ()
        if not pattern:
            files = [self._display(p) for p in self._files(root, glob, type_exts)]
            return natives.grep_files(
                event, files[:limit], workspace=workspace, truncated=len(files) > limit
            )
        flags = re.IGNORECASE if args.get("case_insensitive") else 0
        if args.get("multiline"):
            flags |= re.MULTILINE | re.DOTALL
        try:
            regex = re.compile(pattern, flags)
        except re.error as exc:
            return natives.grep_error(event, f"Invalid regular expression: {exc}")
        before = _int(event, "context_before") or _int(event, "context")
        after = _int(event, "context_after") or _int(event, "context")
        matches: list[natives.GrepMatch] = []
        counts: list[tuple[str, int]] = []
        truncated = False
        for file in self._files(root, glob, type_exts):
            text = _text_of(file)
            if text is None:
                continue
            name = self._display(file)
            hits = _hits(regex, text, bool(args.get("multiline")))
            if not hits:
                continue
            counts.append((name, len(hits)))
            if mode == "content":
                matches.extend(_with_context(name, text, hits, before, after))
            size = len(matches) if mode == "content" else len(counts)
            if size >= limit:
                truncated = True
                break
        if mode == "files_with_matches":
            files = [name for name, _ in counts]
            return natives.grep_files(event, files, workspace=workspace, truncated=truncated)
        if mode == "count":
            return natives.grep_count(event, counts, workspace=workspace, truncated=truncated)
        return natives.grep_content(
            event, matches[:limit], workspace=workspace, truncated=truncated
        )

    def _pi_search(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        root = self.resolve(_str(event, "path"))
        limit = min(_int(event, "limit") or self.max_results, self.max_results)
        lines: list[str] = []
        if event.kind == "pi_find_args":
            for file in self._files(root, _str(event, "pattern") or "*", ()):
                lines.append(self._display(file))
                if len(lines) >= limit:
                    break
            return natives.pi_success(event, "\n".join(lines))
        pattern = _str(event, "pattern")
        if event.args.get("literal"):
            pattern = re.escape(pattern)
        try:
            regex = re.compile(pattern, re.IGNORECASE if event.args.get("ignore_case") else 0)
        except re.error as exc:
            return natives.pi_error(event, f"Invalid regular expression: {exc}")
        for file in self._files(root, _str(event, "glob"), ()):
            text = _text_of(file)
            if text is None:
                continue
            for number in _hits(regex, text, False):
                line = text.splitlines()[number - 1]
                lines.append(f"{self._display(file)}:{number}:{line}")
            if len(lines) >= limit:
                break
        return natives.pi_success(event, "\n".join(lines[:limit]))

    def _files(self, root: Path, glob: str, type_exts: tuple[str, ...]) -> Iterator[Path]:
        """Regular files under `root` (sorted walk, SKIP_DIRS pruned, symlinks not followed)."""
        if root.is_file():
            yield root
            return
        matcher = _glob_matcher(glob) if glob else None
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(files):
                path = Path(directory) / name
                if path.is_symlink():
                    continue
                rel = self._display(path)
                if matcher is not None and not matcher(rel):
                    continue
                if type_exts and not name.endswith(type_exts):
                    continue
                yield path

    # -- shell --------------------------------------------------------------------------

    async def _shell(self, event: ExecRequested) -> list[agent.ExecClientMessage]:
        if not self.allow_shell:
            return self._disabled(event, _SHELL)
        cwd = self.resolve(_str(event, "working_directory"))
        if event.kind == "pi_bash_args":
            seconds = event.args.get("timeout") or 0
            requested = float(seconds) if isinstance(seconds, int | float) else 0.0
        else:
            requested = _int(event, "timeout") / 1000
        timeout = min(requested, self.timeout) if requested > 0 else self.timeout
        outcome = await self.run_command(_str(event, "command"), cwd, timeout)
        if outcome is None:
            return natives.shell_spawn_error(event, f"cannot run the command in {cwd}")
        if event.kind == "pi_bash_args":
            text = outcome.stdout + outcome.stderr
            if outcome.timed_out:
                return natives.pi_error(event, f"Timed out after {timeout:g} s.\n{text}")
            if outcome.exit_code != 0:
                return natives.pi_error(event, f"Exit code {outcome.exit_code}\n{text}")
            return natives.pi_success(event, text)
        return natives.shell_reply(event, outcome)

    async def run_command(
        self, command: str, cwd: Path, limit: float
    ) -> natives.ShellOutcome | None:
        """Run `command` with /bin/sh in its own process group; kill the group on timeout
        or cancellation. Output beyond `output_cap` is dropped (and said so)."""
        started = time.monotonic()
        spawn = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                command,
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                env=shell_environment(),
            )
        )
        try:
            # Shielded: a cancellation while the pipes connect must still find the process
            # (the command may already be running) and kill its group.
            process = await asyncio.shield(spawn)
        except OSError:
            return None
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                started_process = await spawn
                _kill_group(started_process)
                await started_process.wait()
            raise
        assert process.stdout is not None and process.stderr is not None
        reads = asyncio.gather(
            _read_capped(process.stdout, self.output_cap),
            _read_capped(process.stderr, self.output_cap),
        )
        timed_out = False
        try:
            stdout, stderr = await asyncio.wait_for(asyncio.shield(reads), limit)
            await process.wait()
            _kill_group(process)  # nothing it started in the background outlives it
        except TimeoutError:
            timed_out = True
            _kill_group(process)
            try:
                # A process that left the group may still hold the pipes: stop waiting.
                stdout, stderr = await asyncio.wait_for(reads, 5.0)
            except TimeoutError:
                stdout, stderr = "", "[output lost: the command's pipes stayed open]"
            await process.wait()
        except BaseException:
            _kill_group(process)
            reads.cancel()
            with contextlib.suppress(BaseException):
                await reads
            with contextlib.suppress(BaseException):
                await process.wait()
            raise
        code = process.returncode if process.returncode is not None else -1
        signal_name = ""
        if code < 0:
            with contextlib.suppress(ValueError):
                signal_name = signal.Signals(-code).name
        return natives.ShellOutcome(
            exit_code=code if code >= 0 else 128 - code,
            stdout=stdout,
            stderr=stderr,
            duration_ms=int((time.monotonic() - started) * 1000),
            timed_out=timed_out,
            timeout_ms=int(limit * 1000),
            signal=signal_name,
        )


_BLOCKING = {
    "read_args": "_read",
    "pi_read_args": "_read",
    "write_args": "_write",
    "pi_write_args": "_write",
    "pi_edit_args": "_edit",
    "delete_args": "_delete",
    "ls_args": "_ls",
    "pi_ls_args": "_ls",
    "grep_args": "_grep",
    "pi_grep_args": "_grep",
    "pi_find_args": "_grep",
}


# The only variables a command inherits: the bridge's own environment may hold credentials.
SHELL_ENV_KEEP = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "TZ")


def shell_environment() -> dict[str, str]:
    """A minimal environment for model-chosen commands (locale and PATH, no secrets)."""
    env = {k: v for k, v in os.environ.items() if k in SHELL_ENV_KEEP or k.startswith("LC_")}
    env.setdefault("PATH", os.defpath)
    return env


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _str(event: ExecRequested, name: str) -> str:
    value = event.args.get(name, "")
    return value if isinstance(value, str) else str(value)


def _int(event: ExecRequested, name: str) -> int:
    try:
        return int(event.args.get(name, 0) or 0)
    except (TypeError, ValueError):
        return 0


def _text_of(path: Path) -> str | None:
    """A searchable file's text; None for binary, huge or unreadable files."""
    try:
        if path.stat().st_size > MAX_SEARCH_FILE:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def _hits(regex: re.Pattern[str], text: str, multiline: bool) -> list[int]:
    """1-based numbers of the lines that match (a multiline match marks its first line)."""
    if multiline:
        return sorted({text.count("\n", 0, m.start()) + 1 for m in regex.finditer(text)})
    return [n for n, line in enumerate(text.splitlines(), 1) if regex.search(line)]


def _with_context(
    name: str, text: str, hits: list[int], before: int, after: int
) -> list[natives.GrepMatch]:
    lines = text.splitlines()
    hit_set = set(hits)
    wanted: set[int] = set()
    for number in hits:
        wanted.update(range(max(1, number - before), min(len(lines), number + after) + 1))
    return [
        natives.GrepMatch(name, n, lines[n - 1], is_context=n not in hit_set)
        for n in sorted(wanted)
    ]


def _glob_matcher(glob: str) -> Callable[[str], bool]:
    """ripgrep-style glob: without `/` it matches the file name anywhere, else the path."""
    regex = re.compile(_glob_regex(glob))
    if "/" not in glob:
        return lambda rel: bool(regex.fullmatch(rel.rsplit("/", 1)[-1]))
    return lambda rel: bool(regex.fullmatch(rel))


def _glob_regex(glob: str) -> str:
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
                out.append("(?:" + "|".join(_glob_regex(o) for o in options) + ")")
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


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> str:
    """Everything the stream carries, keeping the first `cap` bytes (the rest is drained)."""
    kept = bytearray()
    dropped = 0
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            break
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        dropped += max(0, len(chunk) - max(room, 0))
    text = kept.decode("utf-8", errors="replace")
    if dropped:
        text += f"\n[output truncated: {dropped} more bytes]"
    return text


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
