"""Shared fixtures of the security tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cursor_bridge.engine.executor import BuiltinExecutor
from cursor_bridge.engine.planner import Workspace
from tests.conftest import Stack


@pytest.fixture
def shell_workspace(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    """The stack's bridge runs built-in execs in a fresh workspace, shell allowed."""
    root = tmp_path / "ws"
    root.mkdir()
    config = stack.backend.config
    saved = (config.executor, config.workspace)
    config.executor = BuiltinExecutor(root, allow_shell=True).execute
    config.workspace = Workspace(path=str(root))
    try:
        yield root
    finally:
        config.executor, config.workspace = saved
