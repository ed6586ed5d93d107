"""The workspace jail: which paths the model may name, and file operations that stay inside.

A path is first resolved (`..` and symbolic links followed) and must land inside the
workspace; links that lead out are refused. The resolved path is then used only through
directory descriptors opened one component at a time from the workspace root with
`O_NOFOLLOW`: if anything along the way was swapped for a symbolic link after the check,
the open fails instead of following it. Writes go to a temporary file created exclusively
(`O_EXCL | O_NOFOLLOW`, random name) in the target's directory and renamed over the target
through the same descriptor; deletes unlink through it. Only regular files are read or
written: FIFOs, devices and sockets are refused before they are opened for real (a FIFO
would block the reading thread forever).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO that slipped past the type check must not block.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PathRejected(Exception):
    """A path outside the workspace (absolute, `..` or through a symlink)."""


class NotRegularFile(Exception):
    """The path names a FIFO, device, socket or directory where a file was expected."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def file_kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


class PathJail:
    """Resolves the model's paths inside `workspace` and opens them without following links."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = Path(os.path.abspath(workspace))
        self.real_workspace = self.workspace.resolve()

    # -- checking ------------------------------------------------------------------------

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
        try:
            if not follow_last and lexical not in (self.workspace, self.real_workspace):
                real = lexical.parent.resolve() / lexical.name
            else:
                real = lexical.resolve()
        except (RuntimeError, OSError) as exc:  # a link loop, or a name too long
            raise PathRejected(f"{raw} cannot be resolved ({exc}).") from None
        if not _inside(real, self.real_workspace):
            raise PathRejected(
                f"{raw} resolves (through a symbolic link) outside the workspace "
                f"{self.workspace}; only paths inside it can be used."
            )
        return real

    def display(self, path: Path) -> str:
        """A workspace-relative `/`-separated path (what ripgrep prints)."""
        try:
            rel = path.relative_to(self.real_workspace)
        except ValueError:
            return path.as_posix()
        return rel.as_posix() or "."

    def parts(self, real: Path) -> tuple[str, ...]:
        return real.relative_to(self.real_workspace).parts

    # -- descriptors ---------------------------------------------------------------------

    def open_dir(self, real: Path, *, create: bool = False) -> int:
        """A descriptor of directory *real*, reached component by component without
        following links (creating missing ones when *create*). Caller closes it."""
        fd = os.open(self.real_workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in self.parts(real):
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fd)
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PathRejected(
                    f"{self.display(real)} changed while in use (a symbolic link or a file "
                    "now stands where a directory was); try again."
                ) from exc
            raise
        return fd

    @contextlib.contextmanager
    def parent(self, real: Path, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """The descriptor of *real*'s directory and *real*'s name in it."""
        if real == self.real_workspace:
            raise PathRejected("The workspace itself cannot be used as a file.")
        fd = self.open_dir(real.parent, create=create)
        try:
            yield fd, real.name
        finally:
            os.close(fd)

    def kind(self, real: Path) -> str | None:
        """What *real* is ("file", "directory", "FIFO", ...) without following it; None if
        it does not exist."""
        if real == self.real_workspace:
            return "directory"
        try:
            with self.parent(real) as (fd, name):
                return file_kind(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return None

    # -- files ---------------------------------------------------------------------------

    def read_bytes(self, real: Path, limit: int) -> bytes:
        """The bytes of regular file *real*; raises NotRegularFile, FileTooLarge, OSError."""
        with self.parent(real) as (dir_fd, name):
            return read_regular(dir_fd, name, limit)

    def write_atomic(self, real: Path, data: bytes) -> None:
        """Replace (or create) regular file *real* with *data*, atomically, never through a
        link; missing parent directories are created the same way."""
        with self.parent(real, create=True) as (dir_fd, name):
            mode = 0o666
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                info = None
            if info is not None:
                if not stat.S_ISREG(info.st_mode):
                    raise NotRegularFile(file_kind(info.st_mode))
                mode = stat.S_IMODE(info.st_mode)
            temp = f".{name[:64]}.{secrets.token_hex(6)}.cursor-bridge.tmp"
            fd = os.open(temp, _TEMP_FLAGS, 0o600, dir_fd=dir_fd)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    if info is not None:
                        os.fchmod(fd, mode)
                    else:
                        os.fchmod(fd, mode & ~_umask())
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=dir_fd)
                raise

    def delete(self, real: Path, limit: int) -> tuple[str, bytes]:
        """Unlink *real* (a link itself, never its target). Returns its kind and, for a
        regular file up to *limit* bytes, its previous content. Raises NotRegularFile for a
        directory, FileNotFoundError when missing."""
        with self.parent(real) as (dir_fd, name):
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            kind = file_kind(info.st_mode)
            if kind == "directory":
                raise NotRegularFile(kind)
            data = b""
            if kind == "file" and info.st_size <= limit:
                with contextlib.suppress(OSError, NotRegularFile):
                    data = read_regular(dir_fd, name, limit)
            os.unlink(name, dir_fd=dir_fd)
            return kind, data


class FileTooLarge(Exception):
    pass


def read_regular(dir_fd: int, name: str, limit: int) -> bytes:
    """Read regular file *name* in *dir_fd* (no link followed, nothing else opened)."""
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFile(file_kind(info.st_mode))
    if info.st_size > limit:
        raise FileTooLarge
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):  # swapped between the check and the open
            raise NotRegularFile(file_kind(opened.st_mode))
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > limit:
                raise FileTooLarge
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _umask() -> int:
    # Read without a race-prone set-and-restore across threads: /proc when present.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022
