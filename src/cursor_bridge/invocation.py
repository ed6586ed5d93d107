"""How the user runs this command, so printed hints can be pasted as they are.

From a clone, the README's first command runs the server through `sh scripts/uv.sh run`;
`cursor-bridge` is then on PATH only inside uv's environment, not in the user's shell.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CLONE_PREFIX = "sh scripts/uv.sh run --no-dev cursor-bridge"


def command_name() -> str:
    """`cursor-bridge` when the user's own PATH has it, else the clone's uv invocation."""
    venv = os.environ.get("VIRTUAL_ENV")
    if not os.environ.get("UV") or not venv:
        return "cursor-bridge"
    venv_bin = str(Path(venv) / "bin")
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin
    )
    if shutil.which("cursor-bridge", path=path):
        return "cursor-bridge"
    if (Path(venv).parent / "scripts" / "uv.sh").is_file():
        return CLONE_PREFIX
    return "cursor-bridge"
