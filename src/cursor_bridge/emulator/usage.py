"""Deterministic usage of an emulated turn: context read, cache reads, output tokens."""

from __future__ import annotations

from dataclasses import dataclass

from .model_text import tokens_of


@dataclass(slots=True)
class TurnUsage:
    """What one turn's model calls read and wrote, in tokens (the module docstring of
    turn.py gives the rules)."""

    context_chars: int
    cached_chars: int
    input_tokens: int = 0
    cache_read: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    last_output: int = 0

    def model_call(self) -> None:
        """A model call reads the whole context; after the first, the prior prefix is cached."""
        self.input_tokens += tokens_of(self.context_chars)
        self.cache_read += tokens_of(self.cached_chars)
        self.cached_chars = self.context_chars
        self.last_output = 0

    def add_output(self, tokens: int) -> None:
        self.output_tokens += tokens
        self.last_output += tokens
