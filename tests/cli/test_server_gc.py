"""The `emulator` command runs with the collector tuned as `serve` does (listen.tune_gc): it
allocates per streamed word as the bridge does, and shares the machine with the bridge in
every benchmark."""

from __future__ import annotations

import gc
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from cursor_bridge import emulator_cli
from cursor_bridge.cli import main
from cursor_bridge.listen import GC_THRESHOLDS


@pytest.fixture
def gc_restored() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_emulator_command_runs_with_the_collector_tuned(
    gc_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    gc.set_threshold(700, 10, 10)
    seen: dict[str, Any] = {}

    def fake_run(coroutine: Coroutine[Any, Any, None]) -> None:
        seen["threshold"] = gc.get_threshold()
        seen["frozen"] = gc.get_freeze_count()
        coroutine.close()

    monkeypatch.setattr(emulator_cli, "run", fake_run)
    done = CliRunner().invoke(main, ["emulator", "--port", "0"])
    assert done.exit_code == 0, done.output
    assert seen["threshold"] == GC_THRESHOLDS
    assert seen["frozen"] > 0
