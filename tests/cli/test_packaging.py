"""The package installs as a command: a wheel builds, its `cursor-bridge` entry point runs, and
installing it pulls only the runtime dependencies (none of the development tools)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV_ONLY = ("mypy", "ruff", "grpcio-tools", "pytest")


def uv() -> str:
    """uv itself: `uv run` names it in $UV; else PATH; else scripts/uv.sh's own copy."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return found
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    bootstrap = cache / "cursor-bridge" / "uv-bootstrap" / "bin" / "uv"
    assert bootstrap.exists(), "no uv: run the tests with `sh scripts/uv.sh run pytest`"
    return str(bootstrap)


def test_wheel_installs_a_cursor_bridge_command_without_dev_tools(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    subprocess.run(
        [uv(), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("cursor_bridge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "cursor-bridge = cursor_bridge.cli:main" in archive.read(entry_points).decode()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names[-8:]
    venv = tmp_path / "venv"
    subprocess.run([uv(), "venv", "--quiet", str(venv)], check=True, env=env, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv(), "pip", "install", "--quiet", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    version = subprocess.run(
        [str(venv / "bin" / "cursor-bridge"), "--version"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.stdout.startswith("cursor-bridge, version ")
    listed = subprocess.run(
        [uv(), "pip", "list", "--python", str(python), "--format", "freeze"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.lower()
    installed = {line.split("==")[0] for line in listed.splitlines()}
    assert "cursor-bridge" in installed and "uvicorn" in installed
    assert not installed & set(DEV_ONLY), installed & set(DEV_ONLY)
