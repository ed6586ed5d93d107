"""The engine's output control: stop sequences across any split, and output limits counted
from the backend's token deltas or, without them, the local estimate."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.engine.output_control import OutputControl, StopScanner

FAST = settings(max_examples=150, deadline=None)


def whole_text_stop(text: str, sequences: list[str]) -> tuple[str, str | None]:
    """Reference semantics: cut where a stop sequence first ends (longest on a tie)."""
    best: tuple[int, int, str] | None = None
    for sequence in sequences:
        if not sequence:
            continue
        start = text.find(sequence)
        if start >= 0:
            key = (start + len(sequence), -len(sequence), sequence)
            best = key if best is None or key < best else best
    if best is None:
        return text, None
    return text[: best[0] + best[1]], best[2]


@FAST
@given(
    st.text(alphabet="abc", max_size=30),
    st.lists(st.integers(min_value=0, max_value=30), max_size=6),
    st.lists(st.text(alphabet="abc", min_size=1, max_size=4), min_size=1, max_size=3),
)
def test_stop_sequences_match_the_same_whatever_the_split(
    text: str, cuts: list[int], sequences: list[str]
) -> None:
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    scanner = StopScanner(sequences)
    emitted, match = "", None
    for piece in pieces:
        out, match = scanner.feed(piece)
        emitted += out
        if match is not None:
            break
    if match is None:
        emitted += scanner.flush()
    assert (emitted, match) == whole_text_stop(text, sequences)


def test_control_withholds_the_stop_sequence_and_says_stop() -> None:
    control = OutputControl(stops=["STOP"])
    shown = control.text("one two ST") + control.text("OP three")
    assert shown == "one two " and control.reason == "stop" and control.stop_sequence == "STOP"


def test_held_prefix_is_released_when_it_is_not_a_stop() -> None:
    control = OutputControl(stops=["STOP"])
    assert control.text("almost S") == "almost "
    assert control.flush() == "S" and control.reason is None


def test_backend_counts_decide_the_limit() -> None:
    control = OutputControl(max_tokens=2)
    assert control.text("a very long chunk of words") != ""  # no backend count yet
    control.tokens(1)
    assert control.reason is None
    assert control.text("next") == "next"
    control.tokens(1)
    assert control.reason == "length" and control.used == 2
    assert control.text("more") == ""


def test_without_backend_counts_the_estimate_ends_before_the_next_chunk() -> None:
    control = OutputControl(max_tokens=3)
    assert control.text("alpha bravo ") == "alpha bravo "  # 4 estimated tokens
    assert control.reason is None  # the chunk that crossed the limit was already shown
    assert control.text("charlie") == ""
    assert control.reason == "length" and control.used == 4


def test_thinking_counts_too() -> None:
    control = OutputControl(max_tokens=1)
    assert control.thinking("hmm")
    control.tokens(1)
    assert not control.thinking("more") and control.reason == "length"
