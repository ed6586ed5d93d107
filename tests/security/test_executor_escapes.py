"""The executor under attack: links, special files, hostile patterns, escaping processes.

Each test names the attack that worked before (engine/executor.py as one module) and shows
it failing now.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cursor_bridge.engine.executor import BuiltinExecutor, PathJail, PathRejected
from cursor_bridge.engine.executor.sandbox import bubblewrap
from cursor_bridge.protocol.messages import agent
from tests.engine.client_tools import event, only
from tests.support.processes import children, running, unique_seconds


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.txt").write_text("hello\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.txt").write_text("untouched\n")
    return root.resolve()


async def run(ex: BuiltinExecutor, kind: str, **args: object) -> agent.ExecClientMessage:
    return only(await asyncio.wait_for(ex.execute(event(kind, **args)), 30))


# -- links -------------------------------------------------------------------------------


async def test_a_link_planted_at_the_temporary_name_is_not_followed(ws: Path) -> None:
    target = ws.parent / "outside" / "target.txt"
    # The old executor wrote to `.NAME.cursor-bridge.tmp` then renamed it: a link planted
    # there sent the bytes outside the workspace.
    (ws / ".notes.txt.cursor-bridge.tmp").symlink_to(target)
    ex = BuiltinExecutor(ws, allow_write=True)
    message = await run(ex, "write_args", path="notes.txt", file_text="pwned")
    assert message.write_result.HasField("success")
    assert target.read_text() == "untouched\n"
    assert (ws / "notes.txt").read_text() == "pwned"
    assert (ws / ".notes.txt.cursor-bridge.tmp").is_symlink()  # left alone, not followed


def test_a_directory_swapped_for_a_link_after_the_check_is_not_followed(ws: Path) -> None:
    jail = PathJail(ws)
    (ws / "sub").mkdir()
    real = jail.resolve("sub/new.txt")
    (ws / "sub").rename(ws / "sub-moved")
    (ws / "sub").symlink_to(ws.parent / "outside", target_is_directory=True)
    with pytest.raises(PathRejected):
        jail.write_atomic(real, b"pwned")
    with pytest.raises(PathRejected):
        jail.delete(jail.resolve("sub-moved", follow_last=False).parent / "sub" / "target.txt", 1)
    assert not (ws.parent / "outside" / "new.txt").exists()
    assert (ws.parent / "outside" / "target.txt").read_text() == "untouched\n"


async def test_writing_onto_a_link_replaces_nothing_outside(ws: Path) -> None:
    (ws / "inner.txt").symlink_to(ws / "notes.txt")
    ex = BuiltinExecutor(ws, allow_write=True)
    message = await run(ex, "write_args", path="inner.txt", file_text="through an inside link")
    assert message.write_result.HasField("success")  # resolved inside: writes the real file
    assert (ws / "notes.txt").read_text() == "through an inside link"
    assert (ws / "inner.txt").is_symlink()


# -- special files ----------------------------------------------------------------------


@pytest.fixture
def fifo(ws: Path) -> Path:
    path = ws / "pipe"
    os.mkfifo(path)
    return path


async def test_a_fifo_is_refused_not_read(ws: Path, fifo: Path) -> None:
    ex = BuiltinExecutor(ws, allow_write=True)
    read = await run(ex, "read_args", path="pipe")
    assert "FIFO" in read.read_result.invalid_file.reason
    write = await run(ex, "write_args", path="pipe", file_text="x")
    assert "FIFO" in write.write_result.error.error
    edit = await run(ex, "pi_edit_args", path="pipe", edits=[{"old_text": "a", "new_text": "b"}])
    assert "FIFO" in edit.pi_edit_result.error.error


async def test_search_skips_a_fifo(ws: Path, fifo: Path) -> None:
    ex = BuiltinExecutor(ws)
    found = await run(ex, "grep_args", pattern="hello", output_mode="files_with_matches")
    files = found.grep_result.success.workspace_results[str(ws)].files.files
    assert list(files) == ["notes.txt"]
    direct = await run(ex, "grep_args", pattern="x", path="pipe")
    assert direct.grep_result.HasField("success")


# -- search -----------------------------------------------------------------------------


async def test_a_catastrophic_pattern_neither_hangs_nor_blocks_the_loop(ws: Path) -> None:
    (ws / "long.txt").write_text("a" * 5000 + "\n")
    ex = BuiltinExecutor(ws)
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    try:
        message = await run(ex, "grep_args", pattern="(.|.)*Z")
    finally:
        ticking.cancel()
    content = message.grep_result.success.workspace_results[str(ws)].content
    assert content.total_matched_lines == 0
    assert max(gaps, default=0) < 1.0  # the old executor held the loop for the whole match


async def test_a_search_past_its_time_limit_is_stopped(ws: Path) -> None:
    ex = BuiltinExecutor(ws, timeout=0.001)
    message = await run(ex, "grep_args", pattern="hello")
    assert "took longer than" in message.grep_result.error.error
    assert not children("search_worker.py")


async def test_cancelling_a_search_kills_its_worker(ws: Path) -> None:
    for index in range(200):
        (ws / f"f{index}.txt").write_text("line\n" * 2000)
    ex = BuiltinExecutor(ws)
    task = asyncio.create_task(ex.execute(event("grep_args", pattern="nomatch.*x")))
    deadline = time.monotonic() + 10
    while not children("search_worker.py") and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    assert children("search_worker.py"), "the search worker never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not children("search_worker.py")


async def test_an_invalid_or_backreference_pattern_is_a_clear_error(ws: Path) -> None:
    ex = BuiltinExecutor(ws)
    for pattern in ("(unclosed", r"(a)\1"):
        message = await run(ex, "grep_args", pattern=pattern)
        assert "Invalid regular expression" in message.grep_result.error.error


# -- shell ------------------------------------------------------------------------------


async def test_a_setsid_grandchild_does_not_survive_the_command(ws: Path) -> None:
    ex = BuiltinExecutor(ws, allow_shell=True, timeout=20)
    first, second = f"sleep {unique_seconds(600, '0303')}", f"sleep {unique_seconds(600, '0404')}"
    command = f"setsid {first} & (setsid sh -c '{second}' &) ; echo done"
    message = await run(ex, "shell_args", command=command)
    assert message.shell_result.success.stdout == "done\n"
    deadline = time.monotonic() + 5
    while (running(first) or running(second)) and (  # noqa: ASYNC110
        time.monotonic() < deadline
    ):
        await asyncio.sleep(0.01)
    assert not running(first) and not running(second)


async def test_a_setsid_grandchild_dies_on_timeout(ws: Path) -> None:
    ex = BuiltinExecutor(ws, allow_shell=True, timeout=1)
    first, second = f"sleep {unique_seconds(600, '0505')}", f"sleep {unique_seconds(600, '0606')}"
    command = f"setsid {first} & echo started > started.txt; {second}"
    message = await run(ex, "shell_args", command=command)
    assert message.shell_result.HasField("timeout")
    assert (ws / "started.txt").exists()
    assert not running(first) and not running(second)


BRIDGE_PROCESS = """
import asyncio, sys
from pathlib import Path
from cursor_bridge.engine.executor import BuiltinExecutor
from tests.engine.client_tools import event
ex = BuiltinExecutor(Path(sys.argv[1]), allow_shell=True, sandbox=sys.argv[2] == "sandbox")
command = "cat /proc/$PPID/environ | tr '\\\\0' '\\\\n'; echo; env"
(reply,) = asyncio.run(ex.execute(event("shell_args", command=command)))
print(reply.shell_result.success.stdout)
"""


@pytest.mark.parametrize("sandbox", ["sandbox", "no-sandbox"])
def test_the_bridges_environment_is_not_readable_through_the_parent(ws: Path, sandbox: str) -> None:
    # /proc/PID/environ shows a process's environment as it was started: the bridge must
    # really start with the secret, so it runs in its own process here.
    env = {**os.environ, "CURSOR_ACCESS_TOKEN": "sk-bridge-secret"}
    result = subprocess.run(
        [sys.executable, "-c", BRIDGE_PROCESS, str(ws), sandbox],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "PATH=" in result.stdout and "sk-bridge-secret" not in result.stdout


def _sandbox_or_skip() -> None:
    if bubblewrap() is None:
        pytest.skip(
            "bubblewrap (Debian package `bubblewrap`) is absent or cannot create namespaces"
        )


async def test_the_sandbox_hides_other_processes_and_the_bridge_home(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sandbox_or_skip()
    monkeypatch.setenv("CURSOR_BRIDGE_TEST_SECRET", "sk-bridge-secret")
    home = Path(os.environ["CURSOR_BRIDGE_HOME"])
    (home / "accounts").mkdir(parents=True, exist_ok=True)
    (home / "accounts" / "login.json").write_text('{"token": "sk-cursor-token"}')
    ex = BuiltinExecutor(ws, allow_shell=True)
    bridge = os.getpid()
    command = (
        f"cat /proc/{bridge}/environ 2>&1; ls /proc | grep -c '^[0-9]'; "
        f"cat {home}/accounts/login.json 2>&1; ls -A {home} | wc -l"
    )
    message = await run(ex, "shell_args", command=command)
    output = message.shell_result.success.stdout
    assert "sk-bridge-secret" not in output and "sk-cursor-token" not in output
    lines = output.splitlines()
    assert "No such file" in lines[0]
    assert int(lines[1]) < 10  # only the sandbox's own few processes
    assert lines[-1].strip() == "0"
    assert (home / "accounts" / "login.json").exists()  # hidden, not harmed


async def test_a_link_loop_is_refused_not_a_crash(ws: Path) -> None:
    # Found by tests/security/test_path_jail_properties.py: resolving raised RuntimeError.
    (ws / "loop").symlink_to(ws / "loop")
    message = await run(BuiltinExecutor(ws), "read_args", path="loop/x")
    assert "cannot be resolved" in message.read_result.rejected.reason
