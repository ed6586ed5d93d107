"""grep / glob / find for the model, run in a killable worker process (search_worker.py).

The bridge opens the search root through the path jail and hands the worker that
descriptor, so the worker walks only what the jail allowed. The worker is killed when
`timeout` passes or the request is cancelled (client gone): a search can cost the bridge
neither its event loop, nor its GIL, nor a thread that never returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from ...protocol.events import ExecRequested
from ...protocol.exec_kinds import Replies, plain_text_answer, view
from ...protocol.exec_kinds.pi import PiFindArgs, PiGrepArgs, pi_error, pi_success
from ...protocol.exec_kinds.search import (
    GrepArgs,
    GrepMatch,
    grep_content,
    grep_count,
    grep_error,
    grep_files,
)
from .files import SKIP_DIRS
from .jail import PathJail

MAX_SEARCH_FILE = 2 * 1024 * 1024
WORKER = Path(__file__).with_name("search_worker.py")
# A worker's answer larger than this is cut (results are capped well below it).
_MAX_ANSWER = 64 * 1024 * 1024
TYPE_EXTENSIONS = {
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


class SearchFailed(Exception):
    """The worker timed out, crashed or refused the pattern; the message is for the model."""


class WorkspaceSearch:
    def __init__(self, jail: PathJail, *, max_results: int, timeout: float) -> None:
        self.jail = jail
        self.max_results = max_results
        self.timeout = timeout

    async def grep(self, event: ExecRequested) -> Replies:
        if plain_text_answer(event.kind):
            return await self._pi_search(event)
        args = view(event, GrepArgs)
        limit = min(args.head_limit or self.max_results, self.max_results)
        mode = args.mode
        request: dict[str, Any] = {
            "pattern": args.pattern,
            "glob": args.glob,
            "type_exts": TYPE_EXTENSIONS.get(args.type, ()) if args.type else (),
            "ignore_case": args.case_insensitive,
            "multiline": bool(args.multiline),
            "before": args.lines_before,
            "after": args.lines_after,
            "mode": mode,
            "limit": limit,
        }
        workspace = str(self.jail.workspace)
        try:
            result = await self.run(args.path, request)
        except SearchFailed as exc:
            return grep_error(event, str(exc))
        if "files" in result:
            return grep_files(
                event, result["files"], workspace=workspace, truncated=result["truncated"]
            )
        truncated = bool(result["truncated"])
        counts = [(name, count) for name, count in result["counts"]]
        if mode == "files_with_matches":
            files = [name for name, _ in counts]
            return grep_files(event, files, workspace=workspace, truncated=truncated)
        if mode == "count":
            return grep_count(event, counts, workspace=workspace, truncated=truncated)
        matches = [GrepMatch(f, n, text, is_context=c) for f, n, text, c in result["matches"]]
        return grep_content(event, matches, workspace=workspace, truncated=truncated)

    async def _pi_search(self, event: ExecRequested) -> Replies:
        request: dict[str, Any]
        if isinstance(event.view, PiFindArgs):
            find = event.view
            path, limit = find.path, min(find.limit or self.max_results, self.max_results)
            request = {"pattern": "", "glob": find.pattern or "*", "limit": limit}
        else:
            grep = view(event, PiGrepArgs)
            path, limit = grep.path, min(grep.limit or self.max_results, self.max_results)
            request = {
                "pattern": re.escape(grep.pattern) if grep.literal else grep.pattern,
                "glob": grep.glob,
                "ignore_case": grep.ignore_case,
                "limit": limit,
            }
        try:
            result = await self.run(path, request)
        except SearchFailed as exc:
            return pi_error(event, str(exc))
        if "files" in result:
            return pi_success(event, "\n".join(result["files"]))
        lines = [f"{name}:{number}:{text}" for name, number, text, _ in result["matches"]]
        return pi_success(event, "\n".join(lines[:limit]))

    async def run(self, raw_path: str, request: dict[str, Any]) -> dict[str, Any]:
        """Run the worker on *raw_path* (checked by the jail; raises PathRejected)."""
        root = self.jail.resolve(raw_path)
        kind = await asyncio.to_thread(self.jail.kind, root)
        request = {
            **request,
            "skip_dirs": sorted(SKIP_DIRS),
            "max_file": MAX_SEARCH_FILE,
            "prefix": "" if root == self.jail.real_workspace else self.jail.display(root),
        }
        if kind == "file":
            fd = await asyncio.to_thread(self.jail.open_dir, root.parent)
            request["file"] = root.name
        elif kind == "directory":
            fd = await asyncio.to_thread(self.jail.open_dir, root)
        else:
            return {"files": [], "truncated": False, "matches": [], "counts": []}
        try:
            request["root_fd"] = fd
            return await self._worker(request, fd)
        finally:
            os.close(fd)

    async def _worker(self, request: dict[str, Any], fd: int) -> dict[str, Any]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            str(WORKER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=(fd,),
            env={"PATH": os.defpath, "LC_ALL": "C.UTF-8"},
            limit=_MAX_ANSWER,
        )
        try:
            async with asyncio.timeout(self.timeout):
                out, err = await process.communicate(json.dumps(request).encode())
        except TimeoutError:
            raise SearchFailed(
                f"The search took longer than {self.timeout:g} s and was stopped; narrow the "
                "path, the glob or the pattern."
            ) from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process.returncode != 0:
            detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise SearchFailed(f"The search failed: {detail[0]}")
        result: dict[str, Any] = json.loads(out)
        if "error" in result:
            raise SearchFailed(result["error"])
        return result
