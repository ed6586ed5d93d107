"""Shell commands (sync, stream, background) on each client's shell tool and back."""

from __future__ import annotations

from client_tools import (
    CLAUDE,
    CODEX,
    CODEX_LEGACY_SHELL,
    GENERIC,
    OPENCODE,
    event,
    only,
    wire,
)

from cursor_bridge.engine.adapters import (
    ClientCall,
    map_builtin,
    native_result,
)


def test_shell_maps_command_workdir_and_timeout() -> None:
    request = event(
        "shell_stream_args", command="make test", working_directory="/w/sub", timeout=120000
    )
    assert map_builtin(request, OPENCODE) == ClientCall(
        "bash",
        {
            "command": "make test",
            "workdir": "/w/sub",
            "timeout": 120000,
            "description": "Run make test",
        },
        "shell",
    )
    # Claude's Bash has no working directory: cd first.
    assert map_builtin(request, CLAUDE) == ClientCall(
        "Bash",
        {
            "command": "cd /w/sub && make test",
            "timeout": 120000,
            "description": "Run cd /w/sub && make test",
        },
        "shell",
    )
    assert map_builtin(request, CODEX) == ClientCall(
        "exec_command", {"cmd": "make test", "workdir": "/w/sub", "yield_time_ms": 120000}, "shell"
    )
    assert map_builtin(request, CODEX_LEGACY_SHELL) == ClientCall(
        "shell",
        {"command": ["bash", "-lc", "make test"], "workdir": "/w/sub", "timeout_ms": 120000},
        "shell",
    )
    generic = map_builtin(request, GENERIC)
    assert generic is not None and generic.arguments == {
        "command": "make test",
        "cwd": "/w/sub",
        "timeout": 120,
    }
    # Default timeout 30 s; Claude's schema caps it.
    long = event("shell_args", command="sleep 1", timeout=900000)
    claude = map_builtin(long, CLAUDE)
    assert claude is not None and claude.arguments["timeout"] == 600000
    short = map_builtin(event("shell_args", command="ls"), OPENCODE)
    assert short is not None and short.arguments["timeout"] == 30000


def test_shell_stream_result_sequence_and_exit_codes() -> None:
    request = event("shell_stream_args", command="pytest", working_directory="/w")
    call = map_builtin(request, CLAUDE)
    assert call is not None
    stream = wire(native_result(request, call, "Exit code 2\n1 failed, 3 passed", True))
    events = [m.shell_stream.WhichOneof("event") for m in stream]
    assert events == ["start", "stdout", "exit"]
    assert all((m.id, m.exec_id) == (7, "exec-key") for m in stream)
    assert stream[1].shell_stream.stdout.data == "1 failed, 3 passed"
    assert (stream[2].shell_stream.exit.code, stream[2].shell_stream.exit.cwd) == (2, "/w")

    opencode = map_builtin(request, OPENCODE)
    assert opencode is not None
    ok = wire(
        native_result(
            request, opencode, "3 passed\n\n<bash_metadata>\nexit 0\n</bash_metadata>", False
        )
    )
    assert ok[1].shell_stream.stdout.data == "3 passed" and ok[-1].shell_stream.exit.code == 0
    timed = "partial\n\n<bash_metadata>\nbash tool terminated command after exceeding timeout 30000 ms\n</bash_metadata>"
    killed = wire(native_result(request, opencode, timed, True))
    assert killed[-1].shell_stream.exit.aborted and killed[-1].shell_stream.exit.code == 1

    codex = map_builtin(request, CODEX)
    assert codex is not None
    out = wire(
        native_result(
            request,
            codex,
            "Chunk ID: a\nWall time: 1.2 seconds\nProcess exited with code 3\nOriginal token count: 1\nOutput:\nboom\n",
            False,
        )
    )
    assert out[-1].shell_stream.exit.code == 3 and out[1].shell_stream.stdout.data == "boom\n"


def test_shell_sync_result_is_success_or_failure() -> None:
    request = event("shell_args", command="false", working_directory="/w")
    call = map_builtin(request, CODEX)
    assert call is not None
    failed = only(native_result(request, call, "Process exited with code 1\nOutput:\n", False))
    assert (
        failed.shell_result.failure.exit_code == 1
        and failed.shell_result.failure.command == "false"
    )
    passed = only(
        native_result(request, call, '{"output": "hi\\n", "metadata": {"exit_code": 0}}', False)
    )
    assert passed.shell_result.success.stdout == "hi\n"


def test_background_spawn_detaches_and_reports_the_pid() -> None:
    request = event("background_shell_spawn_args", command="npm run dev", working_directory="/w")
    call = map_builtin(request, OPENCODE)
    assert call is not None
    assert call.arguments["command"].startswith(
        "nohup sh -c 'npm run dev' > /tmp/cursor-bridge-bg-7.log"
    )
    assert call.arguments["command"].endswith("& echo $!")
    success = only(
        native_result(request, call, "4242\n", False)
    ).background_shell_spawn_result.success
    assert (success.pid, success.shell_id, success.command) == (4242, 4242, "npm run dev")
    interactive = event(
        "background_shell_spawn_args", command="python", enable_write_shell_stdin_tool=True
    )
    assert map_builtin(interactive, OPENCODE) is None


# -- fetch, subagent, pi ------------------------------------------------------------------
