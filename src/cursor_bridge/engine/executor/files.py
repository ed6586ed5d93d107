"""Reading, writing, editing, deleting and listing files in the workspace (blocking: the
executor runs these in a worker thread). Every operation goes through the PathJail."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from ...protocol.events import ExecRequested
from ...protocol.exec_kinds import Replies, plain_text_answer, view
from ...protocol.exec_kinds.files import (
    Entry,
    LsArgs,
    PathArgs,
    ReadArgs,
    WriteArgs,
    delete_error,
    delete_not_file,
    delete_not_found,
    delete_permission_denied,
    delete_success,
    ls_error,
    ls_success,
    ls_tree,
    read_error,
    read_invalid_file,
    read_not_found,
    read_permission_denied,
    read_success,
    write_error,
    write_permission_denied,
    write_success,
)
from ...protocol.exec_kinds.pi import PiEditArgs, pi_error, pi_success
from .jail import FileTooLarge, NotRegularFile, PathJail

MAX_READ_FILE = 16 * 1024 * 1024
SKIP_DIRS = frozenset({".git", "node_modules", ".hg", ".svn", "__pycache__", ".venv"})


class WorkspaceFiles:
    """The file tools; `allow_write` is checked by the caller before write/edit/delete."""

    def __init__(
        self, jail: PathJail, *, output_cap: int, max_ls_entries: int, max_ls_depth: int
    ) -> None:
        self.jail = jail
        self.output_cap = output_cap
        self.max_ls_entries = max_ls_entries
        self.max_ls_depth = max_ls_depth

    def read(self, event: ExecRequested) -> Replies:
        args = view(event, ReadArgs)
        path = self.jail.resolve(args.path)
        kind = self.jail.kind(path)
        if kind is None:
            return read_not_found(event)
        if kind == "directory":
            return read_invalid_file(event, "This path is a directory; list it with ls.")
        try:
            data = self.jail.read_bytes(path, MAX_READ_FILE)
        except NotRegularFile as exc:
            return read_invalid_file(event, _special(exc.kind))
        except FileTooLarge:
            return read_invalid_file(
                event, "The file is too large to read whole; search it with grep instead."
            )
        except FileNotFoundError:
            return read_not_found(event)
        except PermissionError:
            return read_permission_denied(event)
        except OSError as exc:
            return read_error(event, exc.strerror or str(exc))
        if b"\0" in data[:8192]:
            return read_invalid_file(event, "This is a binary file.")
        text = data.decode("utf-8", errors="replace")
        lines = text.splitlines(keepends=True)
        offset, limit = args.offset, args.limit
        start = max(offset - 1, 0)
        selected = lines[start : start + limit] if limit > 0 else lines[start:]
        content = "".join(selected)
        truncated = len(selected) < len(lines)
        if len(content) > self.output_cap:
            content = content[: self.output_cap]
            truncated = True
        if plain_text_answer(event.kind):
            return pi_success(event, content)
        return read_success(
            event, content, total_lines=len(lines), file_size=len(data), truncated=truncated
        )

    def write(self, event: ExecRequested) -> Replies:
        args = view(event, WriteArgs)
        path = self.jail.resolve(args.path)
        content = args.content()
        data = args.data()
        if data is None:
            return write_error(event, "Unreadable file content.")
        try:
            self.jail.write_atomic(path, data)
        except NotRegularFile as exc:
            reason = "This path is a directory." if exc.kind == "directory" else _special(exc.kind)
            return write_error(event, reason)
        except PermissionError as exc:
            return write_permission_denied(event, exc.strerror or str(exc))
        except OSError as exc:
            return write_error(event, exc.strerror or str(exc))
        if plain_text_answer(event.kind):
            return pi_success(event, f"Wrote {len(data)} bytes to {args.path}")
        return write_success(event, content if content is not None else "", file_size=len(data))

    def delete(self, event: ExecRequested) -> Replies:
        raw = view(event, PathArgs).path
        path = self.jail.resolve(raw, follow_last=False)
        try:
            _, data = self.jail.delete(path, MAX_READ_FILE)
        except FileNotFoundError:
            return delete_not_found(event)
        except NotRegularFile as exc:
            return delete_not_file(event, exc.kind)
        except PermissionError as exc:
            return delete_permission_denied(event, exc.strerror or str(exc))
        except OSError as exc:
            return delete_error(event, exc.strerror or str(exc))
        previous = data.decode("utf-8", errors="replace") if b"\0" not in data[:8192] else ""
        return delete_success(event, file_size=len(data), prev_content=previous[: self.output_cap])

    def edit(self, event: ExecRequested) -> Replies:
        """pi_edit: exact-text replacements, each of which must match exactly once."""
        args = view(event, PiEditArgs)
        path = self.jail.resolve(args.path)
        try:
            text = self.jail.read_bytes(path, MAX_READ_FILE).decode("utf-8", errors="replace")
        except NotRegularFile as exc:
            return pi_error(event, _special(exc.kind))
        except (OSError, FileTooLarge):
            return pi_error(event, f"File not found: {args.path}")
        for edit in args.edits:
            old, new = edit.old_text, edit.new_text
            found = text.count(old) if old else 0
            if found != 1:
                return pi_error(
                    event, f"old_text must match exactly once; it matched {found} times."
                )
            text = text.replace(old, new, 1)
        try:
            self.jail.write_atomic(path, text.encode("utf-8"))
        except (OSError, NotRegularFile) as exc:
            return pi_error(event, f"Cannot write {args.path}: {exc}")
        return pi_success(event, f"Edited {args.path}")

    def ls(self, event: ExecRequested) -> Replies:
        args = view(event, LsArgs)
        plain_text = plain_text_answer(event.kind)
        raw = args.path
        path = self.jail.resolve(raw)
        kind = self.jail.kind(path)
        if kind != "directory":
            error = "No such directory." if kind is None else "Not a directory."
            if plain_text:
                return pi_error(event, error)
            return ls_error(event, error)
        ignore = list(args.ignore)
        depth = 1 if plain_text else self.max_ls_depth
        entries, processed = self._walk_tree(path, ignore, depth)
        if plain_text:
            limit = args.limit or self.max_ls_entries
            names = [e.path + ("/" if e.is_dir else "") for e in entries][:limit]
            return pi_success(event, "\n".join(names))
        root = str(Path(raw)) if raw and Path(raw).is_absolute() else str(path)
        return ls_success(event, ls_tree(root, entries, processed=processed))

    def _walk_tree(
        self, root: Path, ignore: list[str], max_depth: int
    ) -> tuple[list[Entry], set[str]]:
        """Breadth first; each directory is reopened from the root without following links
        (few descriptors open at once, none through a link)."""
        entries: list[Entry] = []
        processed: set[str] = set()
        queue: list[tuple[str, int]] = [("", 1)]
        while queue and len(entries) < self.max_ls_entries:
            rel, depth = queue.pop(0)
            try:
                fd = self.jail.open_dir(root / rel if rel else root)
            except (OSError, ValueError):
                continue
            try:
                with os.scandir(fd) as scan:
                    children = sorted(scan, key=lambda e: e.name)
                kinds = [(c.name, c.is_dir(follow_symlinks=False)) for c in children]
            except OSError:
                continue
            finally:
                os.close(fd)
            processed.add(rel)
            for name, is_dir in kinds:
                child_rel = f"{rel}/{name}" if rel else name
                if any(fnmatch.fnmatch(name, pat) for pat in ignore):
                    continue
                entries.append(Entry(child_rel, is_dir))
                if is_dir and name not in SKIP_DIRS and depth < max_depth:
                    queue.append((child_rel, depth + 1))
                if len(entries) >= self.max_ls_entries:
                    break
        return entries, processed


def _special(kind: str) -> str:
    return f"This path is a {kind}, not a regular file; only regular files are read or written."
