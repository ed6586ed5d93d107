"""One owner per state directory: real processes sharing CURSOR_BRIDGE_HOME.

Before: opening the store's second connection closed a descriptor of the database file,
which (POSIX record locks are per process) dropped the first connection's SQLite locks; a
second process closing the same file then saw no other user, checkpointed and deleted the
WAL under the first, which failed every request after. Now no descriptor of the database
is ever closed behind SQLite's back, and a second `serve` on the same home refuses to start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

HOLDER = """
import sys
from pathlib import Path
from cursor_bridge.store import SqliteStateStore
store = SqliteStateStore(Path(sys.argv[1]))
store.save_checkpoint("conv", b"first", {"n": 1})
store.flush() if hasattr(store, "flush") else None
print("ready", flush=True)
sys.stdin.readline()
try:
    store.save_checkpoint("conv", b"second", {"n": 2})
    if hasattr(store, "flush"):
        store.flush()
    loaded = store.load_checkpoint("conv")
    print("ok" if loaded is not None and loaded.checkpoint == b"second" else "wrong", flush=True)
except Exception as exc:
    print("error", type(exc).__name__, exc, flush=True)
store.close()
"""

VISITOR = """
import sys
from pathlib import Path
from cursor_bridge.store import SqliteStateStore
store = SqliteStateStore(Path(sys.argv[1]))
store.load_checkpoint("conv")
store.close()
"""


def test_a_second_process_never_removes_the_first_ones_wal(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "ready"
        wal = db.with_name(db.name + "-wal")
        assert wal.exists()
        subprocess.run([sys.executable, "-c", VISITOR, str(db)], check=True, timeout=60)
        assert wal.exists(), "the visiting process deleted the holder's WAL"
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "ok"
    finally:
        holder.kill()
        holder.wait()


def _serve(home: Path, port: int = 0) -> subprocess.Popen[str]:
    env = {**os.environ, "CURSOR_BRIDGE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "cursor_bridge", "serve", "--emulator", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_serve_on_the_same_home_refuses_with_a_reason(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _serve(home)
    try:
        assert first.stdout is not None
        banner = first.stdout.readline()
        assert "listening on" in banner, first.stderr.read() if first.stderr else ""
        url = banner.split("listening on ")[1].split("/v1")[0]
        second = _serve(home)
        _, err = second.communicate(timeout=60)
        assert second.returncode != 0
        assert "already" in err and str(first.pid) in err and str(home) in err
        deadline = time.monotonic() + 10
        while True:  # the first one still answers
            try:
                assert httpx.get(url + "/health", timeout=5).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        first.terminate()
        first.wait(30)
