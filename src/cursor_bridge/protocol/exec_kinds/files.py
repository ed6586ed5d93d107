"""Files: read, write, delete and ls — their arguments and results (pure: no I/O).

Two producers build these answers: the engine when a client's tool ran the request and
returned text, and the bridge's own executor when it ran the request itself.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from ..messages import agent
from .rule import ArgsView, Replies, Wire, answer, count_lines, reply, text, view

if TYPE_CHECKING:
    from ..events import ExecRequested


@dataclass(frozen=True, slots=True)
class PathArgs(ArgsView):
    """Arguments naming one path (delete_args, diagnostics_args, and the base of others)."""

    path: str = ""


@dataclass(frozen=True, slots=True)
class ReadArgs(PathArgs):
    """read_args and pi_read_args: `offset` is the first line (1-based), `limit` a count."""

    offset: int = 0
    limit: int = 0


@dataclass(frozen=True, slots=True)
class WriteArgs(PathArgs):
    """write_args (`file_text`, or base64 `file_bytes` which win) and pi_write_args
    (`content`)."""

    file_text: str = ""
    file_bytes: str = ""
    encoding_hint: str = ""
    return_content: bool = False

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> Self:
        return cls(
            text(args, "path"),
            text(args, "file_text") or text(args, "content"),
            str(args.get("file_bytes") or ""),
            text(args, "encoding_hint"),
            bool(args.get("return_file_content_after_write")),
        )

    def data(self) -> bytes | None:
        """The bytes to write; None when `file_bytes` is not base64."""
        if not self.file_bytes:
            return self.file_text.encode()
        try:
            return base64.b64decode(self.file_bytes, validate=True)
        except binascii.Error:
            return None

    def content(self) -> str | None:
        """The text the file will hold; None when the bytes are not text in their encoding."""
        if not self.file_bytes:
            return self.file_text
        data = self.data()
        if data is None:
            return None
        try:
            return data.decode(self.encoding_hint or "utf-8")
        except (LookupError, UnicodeDecodeError):
            return None


@dataclass(frozen=True, slots=True)
class LsArgs(PathArgs):
    """ls_args (`ignore` globs) and pi_ls_args (`limit` entries)."""

    ignore: tuple[str, ...] = ()
    limit: int = 0


def _path(event: ExecRequested) -> str:
    return view(event, PathArgs).path


# -- read ---------------------------------------------------------------------------------


def read_success(
    event: ExecRequested,
    content: str,
    *,
    total_lines: int | None = None,
    file_size: int | None = None,
    truncated: bool = False,
) -> Replies:
    """`content` is the file text itself (no line-number prefixes: the model copies them)."""
    message = reply(event)
    success = message.read_result.success
    success.path = _path(event)
    success.content = content
    success.total_lines = count_lines(content) if total_lines is None else total_lines
    success.file_size = len(content.encode()) if file_size is None else file_size
    success.truncated = truncated
    return [message]


def read_not_found(event: ExecRequested) -> Replies:
    return answer(event, "file_not_found", path=_path(event))


def read_permission_denied(event: ExecRequested) -> Replies:
    return answer(event, "permission_denied", path=_path(event))


def read_error(event: ExecRequested, error: str) -> Replies:
    return answer(event, "error", path=_path(event), error=error)


def read_rejected(event: ExecRequested, reason: str) -> Replies:
    return answer(event, "rejected", path=_path(event), reason=reason)


def read_invalid_file(event: ExecRequested, reason: str) -> Replies:
    return answer(event, "invalid_file", path=_path(event), reason=reason)


# -- write / delete -----------------------------------------------------------------------


def write_success(event: ExecRequested, content: str, *, file_size: int | None = None) -> Replies:
    """`content` is what the file now holds (returned when the request asked for it)."""
    args = view(event, WriteArgs)
    message = reply(event)
    success = message.write_result.success
    success.path = args.path
    success.lines_created = count_lines(content)
    success.file_size = len(content.encode()) if file_size is None else file_size
    if args.return_content:
        success.file_content_after_write = content
    return [message]


def write_error(event: ExecRequested, error: str) -> Replies:
    return answer(event, "error", path=_path(event), error=error)


def write_rejected(event: ExecRequested, reason: str) -> Replies:
    return answer(event, "rejected", path=_path(event), reason=reason)


def write_permission_denied(event: ExecRequested, error: str) -> Replies:
    path = _path(event)
    return answer(
        event,
        "permission_denied",
        path=path,
        directory=posixpath.dirname(path),
        operation="write",
        error=error,
    )


def delete_success(event: ExecRequested, *, file_size: int = 0, prev_content: str = "") -> Replies:
    message = reply(event)
    success = message.delete_result.success
    success.path = success.deleted_file = _path(event)
    success.file_size = file_size
    success.prev_content = prev_content
    return [message]


def delete_not_found(event: ExecRequested) -> Replies:
    return answer(event, "file_not_found", path=_path(event))


def delete_not_file(event: ExecRequested, actual_type: str) -> Replies:
    return answer(event, "not_file", path=_path(event), actual_type=actual_type)


def delete_permission_denied(event: ExecRequested, error: str) -> Replies:
    return answer(event, "permission_denied", path=_path(event), client_visible_error=error)


def delete_error(event: ExecRequested, error: str) -> Replies:
    return answer(event, "error", path=_path(event), error=error)


def delete_rejected(event: ExecRequested, reason: str) -> Replies:
    return answer(event, "rejected", path=_path(event), reason=reason)


# -- ls -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One listed path, relative to the listed directory (`/`-separated)."""

    path: str
    is_dir: bool = False


def ls_tree(
    root: str, entries: Iterable[Entry], *, processed: Iterable[str] | None = None
) -> agent.LsDirectoryTreeNode:
    """A directory tree rooted at the absolute path `root`.

    Directories named in `processed` (relative paths; the root is "") had their children
    listed; by default every directory that received an entry, and the root, did.
    """
    root = root.rstrip("/") or "/"
    top = agent.LsDirectoryTreeNode(abs_path=root)
    nodes: dict[str, agent.LsDirectoryTreeNode] = {"": top}
    filled: set[str] = {""}

    def directory(rel: str) -> agent.LsDirectoryTreeNode:
        node = nodes.get(rel)
        if node is None:
            parent = directory(posixpath.dirname(rel))
            node = parent.children_dirs.add(abs_path=posixpath.join(root, rel))
            nodes[rel] = node
        return node

    for entry in entries:
        rel = posixpath.normpath(entry.path.strip("/"))
        if rel in (".", "") or rel.startswith("../"):
            continue
        if entry.is_dir:
            directory(rel)
            filled.add(posixpath.dirname(rel))
        else:
            parent_rel = posixpath.dirname(rel)
            directory(parent_rel).children_files.add(name=posixpath.basename(rel))
            filled.add(parent_rel)
    done = set(processed) if processed is not None else filled
    _finish(top, "", done)
    return top


def _finish(node: agent.LsDirectoryTreeNode, rel: str, processed: set[str]) -> dict[str, int]:
    """Fill num_files, extension counts and children_were_processed bottom-up."""
    node.children_were_processed = rel in processed
    counts: dict[str, int] = {}
    files = len(node.children_files)
    for file in node.children_files:
        ext = posixpath.splitext(file.name)[1]
        if ext:
            counts[ext] = counts.get(ext, 0) + 1
    base = node.abs_path
    for child in node.children_dirs:
        child_rel = posixpath.join(rel, posixpath.relpath(child.abs_path, base))
        for ext, n in _finish(child, child_rel, processed).items():
            counts[ext] = counts.get(ext, 0) + n
        files += child.num_files
    node.num_files = files
    for ext, n in counts.items():
        node.full_subtree_extension_counts[ext] = n
    return counts


def ls_success(event: ExecRequested, tree: agent.LsDirectoryTreeNode) -> Replies:
    message = reply(event)
    message.ls_result.success.directory_tree_root.CopyFrom(tree)
    return [message]


def ls_error(event: ExecRequested, error: str) -> Replies:
    return answer(event, "error", path=_path(event), error=error)


def ls_rejected(event: ExecRequested, reason: str) -> Replies:
    return answer(event, "rejected", path=_path(event), reason=reason)


WIRE = (
    Wire("read_args", ReadArgs, read_rejected),
    Wire("write_args", WriteArgs, write_rejected),
    Wire("delete_args", PathArgs, delete_rejected),
    Wire("ls_args", LsArgs, ls_rejected),
)
