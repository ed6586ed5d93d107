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

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.headers import RUN_PATH, ClientIdentity, run_headers
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool

LISTENING = r"listening on http://127\.0\.0\.1:(\d+)"
MODEL = "gpt-5.4"


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

    def finish(self, ok: bool) -> None:
        """The verdict line, the results file (with --profile), and the exit status."""
        self("targets met" if ok else "TARGETS MISSED")
        saved = self.save()
        if saved is not None:
            print(f"results: {saved}")
        sys.exit(0 if ok else 1)

    def profile_path(self, who: str) -> Path | None:
        if self.directory is None:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f"{self.name}-{who}.svg"


@dataclass
class Child:
    """A child process; `pid` is the program's own (the child of py-spy when profiled).
    Its output keeps being read (the last lines kept in `tail`): a child writing to a full
    pipe would block, a log line at a time, and stall the benchmark."""

    proc: subprocess.Popen[str]
    port: str
    pid: int
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=50))

    def drain(self) -> None:
        assert self.proc.stdout is not None
        thread = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.tail.append(line)


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


def spawn(args: list[str], home: Path, profile: Path | None = None) -> Child:
    """`python -m cursor_bridge ARGS` (under py-spy when *profile* is set), once listening,
    with *home* as its CURSOR_BRIDGE_HOME (its own state file, shared with nothing else)."""
    command = [sys.executable, "-m", "cursor_bridge", *args]
    if profile is not None:
        fmt = os.environ.get("BENCH_PROFILE_FORMAT", "flamegraph")
        record = [_py_spy(), "record", "--nonblocking", "--rate", "200", "--format", fmt]
        if "--workers" in args:
            record.append("--subprocesses")
        command = [*record, "--output", str(profile), "--", *command]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "CURSOR_BRIDGE_HOME": str(home)},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        match = re.search(LISTENING, line)
        if match:
            pid = proc.pid if profile is None else _only_child(proc.pid, deadline)
            child = Child(proc, match.group(1), pid)
            child.drain()
            return child
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
    workers: int = 1

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each process; the bridge's counts its worker processes
        too (`serve --workers N`: a supervisor and N children)."""
        return {
            who: tree_cpu_seconds(pid) if who == "bridge" else cpu_seconds(pid)
            for who, pid in self.pids.items()
        }

    def waits(self) -> dict[str, float]:
        """Seconds so far each process's threads spent runnable but waiting for a core
        (`run_queue_seconds`): with more runnable threads than cores, who waited."""
        return {
            who: sum(map(run_queue_seconds, process_tree(pid)))
            if who == "bridge"
            else run_queue_seconds(pid)
            for who, pid in self.pids.items()
        }


def run_queue_seconds(pid: int) -> float:
    """Seconds the live threads of *pid* have waited on a run queue (Linux schedstat: the
    time runnable and not running). Where the CPU seconds say how much work a process
    did, this says how long it was ready to work but had no core: on this 2-core machine,
    with the emulator, the bridge and the load generator all busy, that is what stretches
    the relayed wall time beyond the sum of the work. NaN where schedstat is missing."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return total / 1e9


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process (or one of its threads) so far (Linux /proc)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        with open(path) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found.extend(int(child) for child in children.read().split())
    return found


def process_tree(pid: int) -> list[int]:
    """*pid* and its live descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(_children(current))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of *pid* and its live descendants."""
    return sum(cpu_seconds(process) for process in process_tree(pid))


def _stop(child: Child) -> None:
    # Interrupt the program itself; py-spy, its parent, then writes the profile and exits.
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.proc.wait(30)
    if child.proc.poll() is None:
        child.proc.kill()


@contextlib.contextmanager
def _redis(workers: int) -> Iterator[list[str]]:
    """`--workers N --redis URL` and a redis-server for N > 1 (the workers share state
    through it); nothing for one process."""
    if workers <= 1:
        yield []
        return
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:  # run as a script (python benchmarks/relay.py): tests/ too
        sys.path.append(root)
    from tests.support.redis_server import REDIS_SERVER, redis_server

    if REDIS_SERVER is None:
        raise SystemExit("--workers needs redis-server (Debian package redis-server)")
    with redis_server() as url:
        yield ["--workers", str(workers), "--redis", url]


@contextlib.contextmanager
def stack(
    token_latency: float, serve_args: list[str], profile: Path | None = None, workers: int = 1
) -> Iterator[Stack]:
    """An emulator with this pacing and a bridge on it (`serve --workers N` with a Redis
    for *workers* > 1), as child processes, in a fresh CURSOR_BRIDGE_HOME (removed
    afterwards); with *profile* the bridge runs under py-spy and its flame graph is written
    there on exit."""
    home = Path(tempfile.mkdtemp(prefix="cursor-bridge-bench-"))
    emulator = spawn(["emulator", "--port", "0", "--token-latency", repr(token_latency)], home)
    emulator_url = f"http://127.0.0.1:{emulator.port}"
    children = [emulator]
    try:
        with _redis(workers) as scale_args:
            bridge = spawn(
                [
                    *("serve", "--port", "0", "--backend-url", emulator_url),
                    *("--log-level", "warning", *scale_args, *serve_args),
                ],
                home,
                profile,
            )
            children.insert(0, bridge)
            pids = {"bridge": bridge.pid, "emulator": emulator.pid, "load generator": os.getpid()}
            try:
                yield Stack(emulator_url, f"http://127.0.0.1:{bridge.port}", pids, workers)
            finally:
                _stop(bridge)
                children.remove(bridge)
    finally:
        for child in children:
            _stop(child)
        shutil.rmtree(home, ignore_errors=True)


def add_scale_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run the bridge as `serve --workers N` (with a Redis; N > 1 needs redis-server)",
    )


def add_profile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="write the results and a py-spy flame graph of the bridge into DIR",
    )


async def direct_run(
    pool: BackendPool,
    url: str,
    text: str,
    context: agent.RequestContext,
    on_events: Callable[[RunMachine, list[ev.Event]], None],
) -> None:
    """One Run over the raw protocol (our transport and RunMachine, no bridge), from a user
    message *text* to the end; *on_events* sees each read's events (and may queue exec
    results on the machine) before what the machine owes is sent."""
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=context)
    message = agent.UserMessage(text=text, message_id="m", mode=1)
    action = agent.UserMessageAction(user_message=message, request_context=context)
    request = agent.AgentRunRequest(
        action=agent.ConversationAction(user_message_action=action),
        requested_model=agent.RequestedModel(model_id=MODEL),
        conversation_id="bench",
    )
    stream = await pool.open_stream(url + RUN_PATH, run_headers(None, ClientIdentity(), now_ms=0))
    try:
        await stream.send(machine.start(request))
        status, _ = await stream.response_headers()
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        while True:
            chunk = await stream.receive(idle_timeout=60)
            events = (
                machine.receive_eof(stream.trailers)
                if chunk is None
                else machine.receive_data(chunk)
            )
            for event in events:
                if isinstance(event, ev.RunFailed):
                    raise RuntimeError(str(event.error))
            on_events(machine, events)
            owed = machine.data_to_send()
            if owed:
                await stream.send(owed)
            if chunk is None or machine.state.value in ("closed", "failed"):
                return
    finally:
        await stream.cancel()
