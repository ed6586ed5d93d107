"""Output limits and stop sequences, applied once for every dialect (pure, no I/O).

The segment reader feeds each piece of model output through an `OutputControl`; when the
client's output limit is reached or a stop sequence appears, the control says so, the reader
ends the response (`length`, or `stop` with the sequence) and the backend cancels the rest of
the turn upstream, exactly as a client that goes away does. The conversation stays
resumable: the next request carries the cut answer as history and, finding no checkpoint for
it, seeds a fresh Run with the whole history.

Counting: output tokens are the backend's own `token_delta` counts (thinking and tool-call
arguments included, as OpenAI's max_completion_tokens and Anthropic's max_tokens count
them) whenever the Run reports them; a Run that reports none is counted with the local
estimator (engine/token_estimate.py). A backend count that reaches the limit ends the
answer at once; otherwise the answer ends before the first chunk that would start beyond the
limit (the backend counts a chunk only after sending it, so the estimate never decides alone
while the backend's counts may still come).
"""

from __future__ import annotations

from collections.abc import Sequence

from .token_estimate import text_tokens


class StopScanner:
    """Finds the first stop sequence in streamed text, holding back possible prefixes.

    The model stops where a sequence first ends, so the match with the smallest end wins
    (the longest one on a tie); whatever split the text arrives in, the emitted text and
    the match are the same as for the whole text at once.
    """

    def __init__(self, sequences: Sequence[str]) -> None:
        self.sequences = tuple(s for s in sequences if s)
        self._held = ""

    def feed(self, text: str) -> tuple[str, str | None]:
        """(text safe to emit, matched sequence or None); after a match, stop feeding."""
        buffer = self._held + text
        best: tuple[int, int, str] | None = None
        for sequence in self.sequences:
            start = buffer.find(sequence)
            if start >= 0:
                key = (start + len(sequence), -len(sequence), sequence)
                best = key if best is None or key < best else best
        if best is not None:
            self._held = ""
            end, negative_length, sequence = best
            return buffer[: end + negative_length], sequence
        keep = 0
        for sequence in self.sequences:
            for size in range(min(len(sequence) - 1, len(buffer)), keep, -1):
                if buffer.endswith(sequence[:size]):
                    keep = size
                    break
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep], None

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


class OutputControl:
    """One response's output budget and stop sequences."""

    def __init__(self, max_tokens: int | None = None, stops: Sequence[str] = ()) -> None:
        self.max_tokens = max_tokens
        self._scanner = StopScanner(stops) if any(stops) else None
        self.backend_tokens = 0
        self.estimated_tokens = 0
        self._reported = False
        self._over = False
        self.stop_sequence: str | None = None

    @property
    def active(self) -> bool:
        return self.max_tokens is not None or self._scanner is not None

    @property
    def used(self) -> int:
        """Output tokens so far: the backend's count when it reports one, else the estimate."""
        return self.backend_tokens if self._reported else self.estimated_tokens

    @property
    def exhausted(self) -> bool:
        return self.max_tokens is not None and self.used >= self.max_tokens

    @property
    def reason(self) -> str | None:
        """Why the response must end now: `stop` (a sequence matched), `length`, or None."""
        if self.stop_sequence is not None:
            return "stop"
        return "length" if self._over else None

    def tokens(self, count: int) -> None:
        self._reported = True
        self.backend_tokens += count
        self._over = self._over or self.exhausted

    def admits(self) -> bool:
        """Whether more output may start (False ends the answer here, at the limit)."""
        self._over = self._over or self.exhausted
        return not self._over

    def text(self, text: str) -> str:
        """The part of `text` that may be shown now (a possible stop-sequence prefix is held
        back until the next text decides it; nothing once the limit is reached)."""
        if self.max_tokens is not None:
            if not self.admits():
                return ""
            if not self._reported:
                self.estimated_tokens += text_tokens(text)
        if self._scanner is None or self.stop_sequence is not None:
            return text
        shown, match = self._scanner.feed(text)
        if match is not None:
            self.stop_sequence = match
        return shown

    def thinking(self, text: str) -> bool:
        """Count thinking text; False when the limit was reached before it."""
        if self.max_tokens is None:
            return True
        if not self.admits():
            return False
        if not self._reported:
            self.estimated_tokens += text_tokens(text)
        return True

    def arguments(self, text: str) -> None:
        if self.max_tokens is not None and not self._reported:
            self.estimated_tokens += text_tokens(text)

    def flush(self) -> str:
        """Held-back text that turned out not to start a stop sequence."""
        if self._scanner is None or self.stop_sequence is not None:
            return ""
        return self._scanner.flush()
