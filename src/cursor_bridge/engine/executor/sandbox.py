"""The OS sandbox for shell commands: bubblewrap (`bwrap`), where the machine has it.

Inside, a command sees the file system as the bridge's user does, except the bridge's own
state directory (CURSOR_BRIDGE_HOME: logins, client keys, the conversation store), which is
an empty tmpfs; it has its own PID namespace with a fresh /proc, so no other process (the
bridge included: its environment, memory and open files) is visible; and it dies with its
parent. Without bubblewrap, or where it cannot create namespaces (some containers), the
command runs without these walls, and the bridge says so once in its log.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from pathlib import Path

from ...paths import bridge_home

log = logging.getLogger(__name__)


@functools.cache
def bubblewrap() -> str | None:
    """The usable `bwrap` binary, or None (probed once per process)."""
    found = shutil.which("bwrap")
    if found is None:
        log.warning("bubblewrap (bwrap) not found: shell commands run without an OS sandbox")
        return None
    probe = [found, *_namespace_args(), "--dev-bind", "/", "/", "--proc", "/proc", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("bubblewrap unusable (%s): shell commands run without an OS sandbox", exc)
        return None
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip()
        log.warning("bubblewrap unusable (%s): shell commands run without an OS sandbox", reason)
        return None
    return found


def wrap(command: list[str], cwd: Path, workspace: Path) -> list[str]:
    """*command* inside the sandbox when bubblewrap is usable, else unchanged."""
    binary = bubblewrap()
    if binary is None:
        return command
    home = bridge_home().expanduser().resolve()
    args = [binary, *_namespace_args(), "--dev-bind", "/", "/", "--proc", "/proc"]
    if home.is_dir():
        args += ["--tmpfs", str(home)]
        if workspace == home or workspace.is_relative_to(home):
            args += ["--bind", str(workspace), str(workspace)]  # keep the workspace visible
    return [*args, "--chdir", str(cwd), "--", *command]


def _namespace_args() -> list[str]:
    return ["--unshare-pid", "--die-with-parent", "--new-session"]
