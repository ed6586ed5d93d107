"""Finding live processes by command line (pids differ inside a PID namespace)."""

from __future__ import annotations

import os


def running(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains *marker*. Matched by
    command line, not pid: inside the sandbox's PID namespace a command sees other pids."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                if marker.encode() not in cmdline.read().replace(b"\0", b" "):
                    continue
            with open(f"/proc/{name}/stat") as stat:
                if stat.read().split(")")[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        found.append(int(name))
    return found


def children(marker: str) -> list[int]:
    """This process's live children whose command line contains *marker*: for checks that
    must not see the same command run by another test suite on the machine."""
    parent = str(os.getpid())
    found = []
    for pid in running(marker):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(")")[-1].split()[1] == parent:
                    found.append(pid)
        except OSError:
            continue
    return found


def unique_seconds(whole: int, tag: str) -> str:
    """A `sleep` duration no other test run on the machine uses: *whole* seconds, then
    *tag* and this process's pid as fixed-width decimals (so no marker is a prefix of
    another), for commands found by command line after they should have been killed."""
    return f"{whole}.{tag}{os.getpid():07d}"
