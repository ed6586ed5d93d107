"""`cursor-bridge serve` as a real subprocess, for tests of the command itself."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+/v1)")


@contextlib.contextmanager
def serve_process(
    *args: str, until: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, list[str]]]:
    """Start `serve --port 0 ARGS`, read its banner up to the `listening on` line (or to the
    line *until* accepts), yield (base URL of /v1, banner lines); stop it with SIGINT and
    require a clean exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    banner: list[str] = []
    url = None
    for line in proc.stdout:
        banner.append(line)
        match = _LISTENING.search(line)
        url = match.group(1) if match else url
        if (until or _LISTENING.search)(line):
            break
    try:
        assert url is not None, "".join(banner)
        yield url, banner
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, "".join(banner)
