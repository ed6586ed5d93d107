"""Real coding clients from npm (OpenCode, Claude Code, Codex) for end-to-end tests.

Each package is installed once into a cache folder that survives test runs
(`CURSOR_BRIDGE_TEST_NPM_CACHE`, default `~/.cache/cursor-bridge/npm-clients`); a test that
needs one calls `client_binary()` and is skipped, with the reason, when npm is missing or the
registry cannot be reached, unless `CURSOR_BRIDGE_REQUIRE_CLIENTS=1` (set by `.ci/run`) makes
that a failure. Installs are serialised with a file lock so parallel sessions do not corrupt
the cache.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

# Versions seen working on this machine type (see the shared clients notes); pinned so a new
# release cannot silently change what the tests exercise.
PACKAGES = {
    "opencode": ("opencode-ai", "1.18.33", "opencode"),
    "claude": ("@anthropic-ai/claude-code", "2.1.330", "claude"),
    "codex": ("@openai/codex", "0.169.0", "codex"),
}


def cache_root() -> Path:
    default = Path.home() / ".cache" / "cursor-bridge" / "npm-clients"
    return Path(os.environ.get("CURSOR_BRIDGE_TEST_NPM_CACHE", default))


def missing(reason: str) -> NoReturn:
    """Skip (a developer without npm), or fail where the clients are required (CI)."""
    if os.environ.get("CURSOR_BRIDGE_REQUIRE_CLIENTS") == "1":
        pytest.fail(f"{reason} (CURSOR_BRIDGE_REQUIRE_CLIENTS=1)")
    pytest.skip(reason)


def installed() -> list[str]:
    """The clients already in the cache (the others are downloaded on first use)."""
    return [
        name
        for name, (_, version, binary) in PACKAGES.items()
        if (cache_root() / f"{name}-{version}" / "node_modules" / ".bin" / binary).exists()
    ]


def client_binary(client: str, timeout: float = 600) -> Path:
    """Path of the client's executable, installing it first if needed (or skip the test)."""
    package, version, binary = PACKAGES[client]
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not installed on this machine")
    prefix = cache_root() / f"{client}-{version}"
    exe = prefix / "node_modules" / ".bin" / binary
    if exe.exists():
        return exe
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.exists():
            return exe
        try:
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    str(prefix),
                    f"{package}@{version}",
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            missing(f"npm install {package}@{version} took longer than {timeout:g} s")
        if done.returncode != 0 or not exe.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            missing(f"npm install {package}@{version} failed: {' | '.join(tail)}")
    return exe
