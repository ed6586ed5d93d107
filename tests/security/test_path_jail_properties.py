"""The path jail under random paths: `..`, absolute paths, links in and out, loops.

Whatever the path, `resolve` either refuses it or returns a path inside the workspace that
stays inside when the operating system resolves it; and writing or deleting through the
jail never changes anything outside, even when links are re-pointed between the check and
the operation.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cursor_bridge.engine.executor import PathJail, PathRejected
from cursor_bridge.engine.executor.jail import FileTooLarge, NotRegularFile

EXAMPLES = 400
SEGMENTS = [
    "..", ".", "", "a", "b", "file.txt", "out_link", "in_link", "loop", "dangling",
    "abs_out", "a/..", "...", "~", "\u00e9", "b/../..", "a/b/../../..",
]  # fmt: skip


@contextlib.contextmanager
def new_world() -> Iterator[tuple[Path, Path]]:
    """A workspace with links out, in, looping and dangling, and an outside to protect."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp).resolve()
        ws, outside = base / "ws", base / "outside"
        (ws / "a" / "b").mkdir(parents=True)
        outside.mkdir()
        (outside / "secret.txt").write_text("secret")
        (ws / "file.txt").write_text("inside")
        (ws / "out_link").symlink_to(outside, target_is_directory=True)
        (ws / "a" / "abs_out").symlink_to(outside / "secret.txt")
        (ws / "in_link").symlink_to(ws / "a", target_is_directory=True)
        (ws / "loop").symlink_to(ws / "loop")
        (ws / "dangling").symlink_to(base / "nowhere")
        yield ws, outside


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Path, Path]]:
    with new_world() as paths:
        yield paths


def snapshot(root: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            found[str(path)] = b"" if path.is_dir() else path.read_bytes()
    return found


paths = st.lists(st.sampled_from(SEGMENTS) | st.text(max_size=4), min_size=0, max_size=6).map(
    "/".join
)
prefixes = st.sampled_from(["", "/", "WS/", "OUT/", "//"])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(prefix=prefixes, path=paths, follow_last=st.booleans())
def test_resolved_paths_stay_inside(
    world: tuple[Path, Path], prefix: str, path: str, follow_last: bool
) -> None:
    ws, outside = world
    raw = prefix.replace("WS/", f"{ws}/").replace("OUT/", f"{outside}/") + path
    jail = PathJail(ws)
    try:
        real = jail.resolve(raw, follow_last=follow_last)
    except PathRejected:
        return
    assert real == ws or real.is_relative_to(ws)
    if real == ws:
        return
    target = Path(os.path.realpath(real)) if follow_last else Path(os.path.realpath(real.parent))
    assert target == ws or target.is_relative_to(ws)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=paths, swap=st.sampled_from(["", "a", "a/b", "in_link"]), delete=st.booleans())
def test_writes_and_deletes_never_touch_the_outside(path: str, swap: str, delete: bool) -> None:
    with new_world() as (ws, outside):
        write_or_delete(ws, outside, path, swap, delete)


def write_or_delete(ws: Path, outside: Path, path: str, swap: str, delete: bool) -> None:
    before = snapshot(outside)
    jail = PathJail(ws)
    try:
        real = jail.resolve(path, follow_last=not delete)
    except PathRejected:
        return
    moved: Path | None = None
    if swap and (ws / swap).is_dir() and not (ws / swap).is_symlink():
        # Between the check and the operation, a directory becomes a link to the outside.
        moved = ws / (swap.replace("/", "_") + ".moved")
        (ws / swap).rename(moved)
        (ws / swap).symlink_to(outside, target_is_directory=True)
    try:
        with contextlib.suppress(OSError, PathRejected, NotRegularFile, FileTooLarge, ValueError):
            if delete:
                jail.delete(real, 1 << 20)
            else:
                jail.write_atomic(real, b"written")
    finally:
        if moved is not None:
            with contextlib.suppress(FileNotFoundError):  # the delete may have removed it
                (ws / swap).unlink()
    assert snapshot(outside) == before
