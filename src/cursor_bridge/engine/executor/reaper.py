"""The reaper: runs one command and makes sure nothing it started outlives it.

Run as a script (`python -I reaper.py COMMAND...`, standard library only) by shell.py in a
new session. It marks itself a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`), so every
descendant that loses its parent, even one that called `setsid` or double-forked to hide,
is re-parented to the reaper instead of to init. When the command exits, or the reaper is
told to stop (SIGTERM/SIGINT/SIGHUP, or its parent, the bridge, dies: `PR_SET_PDEATHSIG`),
it kills its children until it has none left, then exits with the command's status (or
dies of the command's signal). No cgroups, no privileges. Elsewhere than Linux only the
process group is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def main(argv: list[str]) -> None:
    parent = os.getppid()
    subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1) and _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the bridge died before the death signal was armed
        sys.exit(137)
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)  # its own group: the reaper can kill the group without itself
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    with contextlib.suppress(OSError):
        os.setpgid(child, child)

    def stop(_number: int, _frame: object) -> None:
        kill_descendants(child, subreaper)
        os.kill(os.getpid(), signal.SIGKILL)  # killed, as the command was

    for number in _STOP_SIGNALS:
        signal.signal(number, stop)
    status = _wait_for(child)
    kill_descendants(child, subreaper)
    if os.WIFSIGNALED(status):
        died_of = os.WTERMSIG(status)
        signal.signal(died_of, signal.SIG_DFL)
        os.kill(os.getpid(), died_of)
    sys.exit(os.waitstatus_to_exitcode(status))


def _wait_for(child: int) -> int:
    """Reap (re-parented orphans too) until *child* exits; its wait status."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == child:
            return status


def kill_descendants(child: int, subreaper: bool) -> None:
    """SIGKILL the command's group, then every child until none is left (orphans keep
    arriving while their parents die)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child, signal.SIGKILL)
    if not subreaper:
        _reap_all()
        return
    while True:
        children = _children()
        if not children:
            _reap_all()
            if not _children():
                return
            continue
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _children() -> list[int]:
    me = os.getpid()
    found: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == me:
            found.append(int(name))
    return found


def _reap_all() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


if __name__ == "__main__":
    main(sys.argv[1:])
