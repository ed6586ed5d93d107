"""The README's promise: `cursor-bridge serve` with no login serves the emulator, and an
openai SDK script gets streamed text with usage from it (a real subprocess, real sockets)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from openai import OpenAI

from tests.support.served import serve_process


@pytest.fixture
def served() -> Iterator[tuple[str, list[str]]]:
    with serve_process() as (url, banner):
        yield url, banner


def test_serve_without_login_uses_the_emulator_and_streams(served: tuple[str, list[str]]) -> None:
    url, banner = served
    assert any("BUILT-IN EMULATOR" in line for line in banner)
    client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=20)
    chunks = list(
        client.chat.completions.create(
            model="claude-4.6-sonnet",
            messages=[{"role": "user", "content": "Hello bridge"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Emulated answer to: Hello bridge"
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0


def test_cli_help_lists_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cursor_bridge", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "serve" in result.stdout and "emulator" in result.stdout
