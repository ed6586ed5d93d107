"""Where cursor-bridge keeps its state: `$CURSOR_BRIDGE_HOME`, else the platform's data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def bridge_home() -> Path:
    override = os.environ.get("CURSOR_BRIDGE_HOME")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("cursor-bridge", appauthor=False))


def ensure_home() -> Path:
    home = bridge_home()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home
