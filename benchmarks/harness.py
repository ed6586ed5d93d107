"""What every benchmark shares: the emulator and bridge as child processes, CPU and load
readings, and a report that is printed and, with `--profile DIR`, written to DIR beside a
py-spy profile of the bridge.

With a profile directory the bridge runs under `py-spy record` (py-spy is its parent, so no
ptrace permission is needed), sampling for the whole benchmark; the flame graph
`DIR/<name>-bridge.svg` is written when the bridge exits at the end, next to the report
`DIR/<name>.txt`. `BENCH_PROFILE_FORMAT=raw` (or `speedscope`) picks py-spy's other output
formats (the file keeps its .svg name).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LISTENING = r"listening on http://127\.0\.0\.1:(\d+)"


def load_average() -> str:
    """The 1/5/15-minute load averages: every figure is reported with them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


@dataclass
class Report:
    """Lines printed as they come and kept for the results file."""

    name: str
    directory: Path | None = None
    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def save(self) -> Path | None:
        if self.directory is None:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.name}.txt"
        path.write_text("\n".join(self.lines) + "\n")
        return path

    def profile_path(self, who: str) -> Path | None:
        if self.directory is None:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f"{self.name}-{who}.svg"


@dataclass
class Child:
    """A child process; `pid` is the program's own (the child of py-spy when profiled)."""

    proc: subprocess.Popen[str]
    port: str
    pid: int


def _only_child(pid: int, deadline: float) -> int:
    """The pid of the single child of *pid* (py-spy's profiled program)."""
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    found = children.read().split()
                if found:
                    return int(found[0])
        time.sleep(0.01)
    raise SystemExit("py-spy did not start the program")


def spawn(args: list[str], profile: Path | None = None) -> Child:
    """`python -m cursor_bridge ARGS` (under py-spy when *profile* is set), once listening."""
    command = [sys.executable, "-m", "cursor_bridge", *args]
    if profile is not None:
        fmt = os.environ.get("BENCH_PROFILE_FORMAT", "flamegraph")
        record = [_py_spy(), "record", "--nonblocking", "--rate", "200", "--format", fmt]
        command = [*record, "--output", str(profile), "--", *command]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        match = re.search(LISTENING, line)
        if match:
            pid = proc.pid if profile is None else _only_child(proc.pid, deadline)
            return Child(proc, match.group(1), pid)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit(f"{args[0]} did not start")


def _py_spy() -> str:
    """py-spy is a binary (a dev dependency), installed next to the interpreter."""
    candidate = Path(sys.executable).with_name("py-spy")
    return str(candidate) if candidate.exists() else "py-spy"


@dataclass
class Stack:
    emulator_url: str
    bridge_url: str
    pids: dict[str, int]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stop(child: Child) -> None:
    # Interrupt the program itself; py-spy, its parent, then writes the profile and exits.
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.proc.wait(30)
    if child.proc.poll() is None:
        child.proc.kill()


@contextlib.contextmanager
def stack(
    token_latency: float, serve_args: list[str], profile: Path | None = None
) -> Iterator[Stack]:
    """An emulator with this pacing and a bridge on it, as child processes; with *profile*
    the bridge runs under py-spy and its flame graph is written there on exit."""
    emulator = spawn(["emulator", "--port", "0", "--token-latency", repr(token_latency)])
    emulator_url = f"http://127.0.0.1:{emulator.port}"
    children = [emulator]
    try:
        bridge = spawn(
            [
                *("serve", "--port", "0", "--backend-url", emulator_url),
                *("--log-level", "warning", *serve_args),
            ],
            profile,
        )
        children.insert(0, bridge)
        pids = {"bridge": bridge.pid, "emulator": emulator.pid, "load generator": os.getpid()}
        yield Stack(emulator_url, f"http://127.0.0.1:{bridge.port}", pids)
    finally:
        for child in children:
            _stop(child)
