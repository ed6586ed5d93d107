"""Counting `os.stat` calls: tests that check how often a file is looked at."""

from __future__ import annotations

import os

import pytest


def count_stats(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths `os.stat` is called with from now on (for this test), in order."""
    looks: list[str] = []
    real_stat = os.stat

    def counting_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        looks.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", counting_stat)
    return looks
