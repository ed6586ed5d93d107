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
