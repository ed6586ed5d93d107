"""The process's tally of protocol surprises (see protocol/surprises.py), for `/metrics` and
the log: each kind is counted every time and logged once, without content."""

from __future__ import annotations

import logging
from collections import Counter

from ..protocol.surprises import Surprise, SurpriseWatch

log = logging.getLogger("cursor_bridge.surprises")

MAX_KINDS = 256
"""Distinct (where, what) pairs kept apart; a backend inventing field numbers by the
thousand lands in `other` instead of growing the metric without bound."""


class SurpriseCounter:
    def __init__(self, max_kinds: int = MAX_KINDS) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._max_kinds = max_kinds

    def watch(self) -> SurpriseWatch:
        """A watch for one new Run, reporting here."""
        return SurpriseWatch(self.report)

    def report(self, surprise: Surprise) -> None:
        where = f"{surprise.where}#{surprise.number}" if surprise.number else surprise.where
        key = (where, surprise.label)
        if key not in self.counts:
            if len(self.counts) >= self._max_kinds:
                key = ("other", surprise.what)
            else:
                log.warning(
                    "protocol surprise: %s (logged once; counted in "
                    "cursor_bridge_protocol_surprises_total)",
                    surprise.describe(),
                )
        self.counts[key] += 1

    def total(self) -> int:
        return sum(self.counts.values())
