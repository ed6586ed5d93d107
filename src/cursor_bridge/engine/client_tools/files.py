"""read, write, delete, ls and pi_edit on the client's tools, and their results back."""

from __future__ import annotations

import posixpath
from typing import Any

from ...protocol.events import ExecRequested
from ...protocol.exec_kinds import Replies, view
from ...protocol.exec_kinds.files import (
    LsArgs,
    PathArgs,
    ReadArgs,
    WriteArgs,
    delete_error,
    delete_not_found,
    delete_success,
    ls_error,
    ls_success,
    ls_tree,
    read_error,
    read_invalid_file,
    read_not_found,
    read_success,
    write_error,
    write_success,
)
from ...protocol.exec_kinds.pi import PiEditArgs, pi_error, pi_success
from .. import tool_output as out
from ..vocabulary import ClientCall, Toolbox
from .calls import ClientOutput, fill, quote, schema_description, shell_call

MAX_SHELL_WRITE = 100_000  # file bodies written through a shell command (one argv string)


def map_read(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, ReadArgs)
    path, offset, limit = args.path, args.offset, args.limit
    tool = box.find("read")
    if tool is not None:
        offset_name = box.param(tool, "offset")
        if offset > 0 and offset_name:
            described = schema_description(tool.props.get(offset_name))
            if "0-based" in described or "zero-based" in described:
                offset -= 1
        return fill(
            box,
            tool,
            "read",
            {
                "file": path,
                "offset": offset if offset > 0 else None,
                "limit": limit if limit > 0 else None,
            },
        )
    if offset > 0 or limit > 0:
        first = max(offset, 1)
        last = f"{first + limit - 1}" if limit > 0 else "$"
        return shell_call(box, f"sed -n '{first},{last}p' {quote(path)}", label=f"Read {path}")
    return shell_call(box, f"cat -- {quote(path)}", label=f"Read {path}")


def map_write(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, WriteArgs)
    path, content = args.path, args.content()
    if content is None:
        return None
    tool = box.find("write")
    if tool is not None:
        return fill(box, tool, "write", {"file": path, "content": content})
    if len(content.encode()) > MAX_SHELL_WRITE:
        return None
    directory = posixpath.dirname(path) or "."
    command = f"mkdir -p -- {quote(directory)} && printf '%s' {quote(content)} > {quote(path)}"
    return shell_call(box, command, label=f"Write {path}")


def map_delete(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    path = view(event, PathArgs).path
    return shell_call(box, f"rm -f -- {quote(path)}", label=f"Delete {path}")


def map_ls(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, LsArgs)
    path = args.path or "."
    tool = box.find("list")
    if tool is not None:
        return fill(box, tool, "list", {"dir": path, "ignore": list(args.ignore) or None})
    read = box.find("read")
    if read is not None and box.vocabulary == "opencode":
        return fill(box, read, "list", {"file": path})  # OpenCode's read lists directories
    shell = shell_call(box, f"ls -1Ap -- {quote(path)}", label=f"List {path}", role="list")
    if shell is not None:
        return shell
    glob = box.find("glob")
    if glob is not None:
        return fill(box, glob, "glob", {"pattern": "*", "dir": path})
    return None


def map_pi_edit(event: ExecRequested, box: Toolbox) -> ClientCall | None:
    args = view(event, PiEditArgs)
    tool = box.find("edit")
    if tool is None or len(args.edits) != 1:
        return None
    edit = args.edits[0]
    values: dict[str, Any] = {"file": args.path, "old": edit.old_text, "new": edit.new_text}
    return fill(box, tool, "edit", values)


def read_result(event: ExecRequested, result: ClientOutput) -> Replies:
    if result.failed:
        if out.looks_not_found(result.text):
            return read_not_found(event)
        return read_error(event, result.text or "the read failed")
    body = out.file_text(result.text)
    if body.directory_entries is not None:
        return read_invalid_file(event, "This path is a directory; list it with ls.")
    return read_success(event, body.content, total_lines=body.total_lines, truncated=body.truncated)


def write_result(event: ExecRequested, result: ClientOutput) -> Replies:
    if result.failed:
        return write_error(event, result.text or "the write failed")
    return write_success(event, view(event, WriteArgs).content() or "")


def delete_result(event: ExecRequested, result: ClientOutput) -> Replies:
    if result.failed:
        if out.looks_not_found(result.text):
            return delete_not_found(event)
        return delete_error(event, result.text or "the delete failed")
    return delete_success(event)


def ls_result(event: ExecRequested, result: ClientOutput) -> Replies:
    path = view(event, LsArgs).path or result.workspace or "."
    if result.failed:
        return ls_error(event, result.text or "the listing failed")
    root = path if path.startswith("/") else posixpath.join(result.workspace or "/", path)
    entries = out.listing_entries(result.text, root)
    return ls_success(event, ls_tree(root, entries))


def pi_read_result(event: ExecRequested, result: ClientOutput) -> Replies:
    """pi_read answers with the bare file text (the client's wrapping removed)."""
    if result.failed:
        return pi_error(event, result.text)
    return pi_success(event, out.file_text(result.text).content)


def pi_text_result(event: ExecRequested, result: ClientOutput) -> Replies:
    """The other pi_* kinds answer with the tool's text as it is."""
    if result.failed:
        return pi_error(event, result.text)
    return pi_success(event, result.text)
