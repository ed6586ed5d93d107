"""Conformance gate: the `llm-comply` suite (a dev dependency, run offline against its bundled
specs) against the bridge on the emulator, for every dialect it covers. Every check must
pass, none skipped: llm-comply runs its reasoning checks only for GPT-5 names in the OpenAI
formats and its thinking check only for Claude names in the Anthropic one, so each format is
run with such a model of the emulator's catalog. (The emulated model thinks only when
scripted to, which llm-comply reports as a warning, not a failure.)"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import Stack

RUN = "import sys; from llm_comply.cli import main; sys.exit(main(sys.argv[1:]))"
FORMATS = {
    "openai-chat": ["-m", "gpt-5.4"],
    "open-responses": ["-m", "gpt-5.4"],
    "anthropic": [
        "-m",
        "claude-4.6-sonnet",
        "--auth-header",
        "x-api-key",
        "--no-bearer",
        "-H",
        "anthropic-version:2023-06-01",
    ],
}


def comply(stack: Stack, fmt: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN,
            "--format",
            fmt,
            "-u",
            stack.bridge_url + "/v1",
            "-k",
            "test-key",
            "--json",
            "--timeout",
            "30",
            *FORMATS[fmt],
        ],
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        pytest.fail(
            f"llm-comply printed no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return report


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_llm_comply_check_passes(stack: Stack, fmt: str) -> None:
    report = comply(stack, fmt)
    summary = report["summary"]
    failed = [r for r in report["results"] if r["status"] not in ("passed", "skipped")]
    assert not failed, json.dumps(failed, indent=1)
    assert summary["failed"] == summary["skipped"] == 0
    assert summary["passed"] == summary["total"] >= 9
