"""`cursor-bridge doctor`: every step passes on the emulator, each injected protocol surprise
is named in the report, and it never spends requests without a confirmation."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cursor_bridge.cli import main
from cursor_bridge.doctor.steps import STEP_NAMES
from cursor_bridge.emulator import EmulatorOptions
from tests.support.threaded_emulator import ThreadedEmulator, threaded_emulator

STEP_LINE = re.compile(r"^(PASS|FAIL|SKIP)  (.+?)\s+\d+\.\d\d s  (.*)$")


def step_lines(output: str) -> dict[str, tuple[str, str]]:
    found = {}
    for line in output.splitlines():
        match = STEP_LINE.match(line)
        if match:
            found[match.group(2)] = (match.group(1), match.group(3))
    return found


def doctor_process(*args: str, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cursor_bridge", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=stdin,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_doctor_passes_every_step_on_the_built_in_emulator() -> None:
    result = doctor_process("--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BUILT-IN EMULATOR" in result.stdout
    assert "nothing is billed" in result.stdout
    steps = step_lines(result.stdout)
    assert list(steps) == list(STEP_NAMES)
    assert {status for status, _ in steps.values()} == {"PASS"}, result.stdout
    assert "refreshed via exchange_user_api_key" in steps["login"][1]
    assert "repeated the code word" in steps["seeded history"][1]
    assert "held Run carried on" in steps["tool round"][1]
    assert "refused read_args" in steps["refused exec"][1]
    assert f"{len(STEP_NAMES)} passed, 0 failed, 0 skipped" in result.stdout


def test_doctor_refuses_to_start_without_a_terminal_or_yes() -> None:
    result = doctor_process(stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert "--yes" in result.stderr
    assert not step_lines(result.stdout)  # nothing ran


@pytest.fixture(params=["unknown-field", "unknown-query", "end-early", "missing-blob"])
def surprising(request: pytest.FixtureRequest) -> Iterator[tuple[str, ThreadedEmulator]]:
    with threaded_emulator(EmulatorOptions(inject=(request.param,))) as emulator:
        yield request.param, emulator


EXPECTED = {
    "unknown-field": ["unknown_field at interaction_update.text_delta#4242"],
    "unknown-query": ["unknown_query_kind at interaction_query#99"],
    "end-early": ["ended_before_turn_ended at end_stream"],
    # (How the Run then ends is the bridge's choice: answered empty, the emulator ends it
    # with `internal`; unanswered, the bridge gives up on it. The surprise is the same.)
    "missing-blob": ["blob_not_stored at kv_server_message.get_blob_args"],
}


def test_each_injected_surprise_is_reported_by_name(
    surprising: tuple[str, ThreadedEmulator],
) -> None:
    kind, emulator = surprising
    result = CliRunner().invoke(main, ["doctor", "--yes", "--backend-url", emulator.url])
    assert result.exit_code == 1, result.output
    steps = step_lines(result.output)
    status, seen = steps["surprises"]
    assert status == "FAIL"
    for name in EXPECTED[kind]:
        assert name in seen
    assert steps["login"][0] == "SKIP"  # no login at that URL: nothing to check
    if kind in ("end-early", "missing-blob"):
        assert steps["text turn"][0] == "FAIL"
        assert EXPECTED[kind][0] in steps["text turn"][1]  # named on the step it broke
        assert steps["clean ends"][0] == "FAIL"


def test_doctor_record_writes_a_trace_that_trace_show_prints(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["doctor", "--yes", "--record", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (trace,) = tmp_path.glob("*.jsonl")
    assert f"Wire trace: {trace}" in result.output
    shown = runner.invoke(main, ["trace", "show", str(trace)])
    assert shown.exit_code == 0, shown.output
    assert "→  run_request" in shown.output
    assert "←  interaction_update.turn_ended" in shown.output
    assert "←  exec_server_message.read_args" in shown.output
    assert "end-stream: clean" in shown.output


def test_doctor_with_a_stored_login_refreshes_it_and_uses_it() -> None:
    options = EmulatorOptions(require_auth=True, token_lifetime=600)
    with threaded_emulator(options) as emulator:
        runner = CliRunner()
        login = runner.invoke(
            main, ["login", "--api-key", "crsr_doctor_login", "--backend-url", emulator.url]
        )
        assert login.exit_code == 0, login.output
        (account_file,) = (Path(os.environ["CURSOR_BRIDGE_HOME"]) / "accounts").glob("*.json")
        token_before = json.loads(account_file.read_text())["access_token"]
        result = runner.invoke(main, ["doctor", "--yes", "--backend-url", emulator.url])
        assert result.exit_code == 0, result.output
        assert "count against the account's usage" in result.output  # the cost, said first
        steps = step_lines(result.output)
        assert {status for status, _ in steps.values()} == {"PASS"}, result.output
        assert emulator.counters.refreshes == 1
        assert json.loads(account_file.read_text())["access_token"] != token_before
        assert token_before not in result.output


def test_emulator_command_refuses_unknown_injections_and_bad_traces(tmp_path: Path) -> None:
    runner = CliRunner()
    bogus = runner.invoke(main, ["emulator", "--inject", "gremlins"])
    assert bogus.exit_code == 2 and "unknown-field" in bogus.output
    not_a_trace = tmp_path / "notes.jsonl"
    not_a_trace.write_text('{"hello": 1}\n')
    bad = runner.invoke(main, ["emulator", "--replay", str(not_a_trace)])
    assert bad.exit_code == 1 and "not a cursor-bridge wire trace" in bad.output


def test_record_content_needs_record() -> None:
    for command in ("doctor", "serve"):
        result = CliRunner().invoke(main, [command, "--record-content"])
        assert result.exit_code == 2 and "--record-content goes with --record" in result.output


def test_trace_show_refuses_what_is_not_a_trace(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"trace": "cursor-bridge wire trace", "version": 1}\n')
    bad.write_text(bad.read_text() + '{"run": 1, "ev": "frame", "dir": "in", "shape": [{}]}\n')
    result = CliRunner().invoke(main, ["trace", "show", str(bad)])
    assert result.exit_code == 1 and "malformed record" in result.output
    (tmp_path / "empty.jsonl").write_text("")
    result = CliRunner().invoke(main, ["trace", "show", str(tmp_path / "empty.jsonl")])
    assert result.exit_code == 1 and "empty trace" in result.output


def test_seeded_history_fails_when_the_model_did_not_get_the_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The step is judged by the model's answer: one that lacks the code word fails it."""
    from cursor_bridge.doctor import steps
    from cursor_bridge.doctor.target import Target
    from cursor_bridge.protocol.headers import ClientIdentity

    monkeypatch.setattr(steps, "RECALL_PROMPT", "What was it?\n/reply I was never told")
    results = asyncio.run(steps.check(Target("emulator", ""), ClientIdentity(), "auto"))
    seeded = next(r for r in results if r.name == "seeded history")
    assert seeded.status == "FAIL"
    assert "did not repeat the code word" in seeded.seen
    assert "I was never told" in seeded.seen


def test_seeded_history_catches_history_sent_only_in_turns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Against the strict emulator (prompt built from root_prompt_messages_json only, as
    Cursor's server builds it), a bridge that put the history only into `turns` fails the
    step: the code word never reaches the model."""
    from cursor_bridge.doctor import steps
    from cursor_bridge.doctor.target import Target
    from cursor_bridge.protocol import seed
    from cursor_bridge.protocol.headers import ClientIdentity

    real = seed.root_prompt_entries

    def without_history(system: str, rules: str, turns: object) -> list[dict[str, object]]:
        return real(system, rules, [])

    monkeypatch.setattr(seed, "root_prompt_entries", without_history)
    results = asyncio.run(steps.check(Target("emulator", ""), ClientIdentity(), "auto"))
    by_name = {r.name: r for r in results}
    assert by_name["seeded history"].status == "FAIL"
    assert "did not repeat the code word" in by_name["seeded history"].seen
    assert by_name["text turn"].status == "PASS"  # only the history check sees it
