"""What the scripted model writes: its answer in word-sized pieces, the token figure of a
text, the deterministic summary of a dialogue and the `/recall` line."""

from __future__ import annotations

import math
import re

from .history import HistoryEntry

_WORD = re.compile(r"\s*\S+\s*")


def chunks(text: str) -> list[str]:
    """Word-sized pieces whose concatenation is *text*."""
    pieces = _WORD.findall(text)
    return pieces if pieces else ([text] if text else [])


def tokens_of(chars: int) -> int:
    """The emulator's token figure: a token per four characters, rounded up."""
    return math.ceil(chars / 4)


def summary_text(entries: list[HistoryEntry]) -> str:
    """The emulator's deterministic summary: one short line per message of the dialogue (the
    system prompt stays the client's and is not summarised)."""
    lines = [
        f"{e.role}: {' '.join(e.text.split()[:8])}"
        for e in entries
        if e.text.strip() and e.role != "system"
    ]
    return "Summary of " + str(len(lines)) + " messages:\n" + "\n".join(lines)


def recall_text(rule: str, entries: list[HistoryEntry]) -> str:
    parts = [f"rule={rule}"] if rule else []
    parts.extend(f"{entry.role}={entry.text}" for entry in entries)
    return "history: " + ("; ".join(parts) if parts else "(no history)")
