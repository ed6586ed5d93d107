"""Runs of words read in C (`Deltas.skim` via `_PAIRS`): exactly what a frame-by-frame
reading of the same bytes takes, whatever the texts, counts, neighbours and cuts."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.protocol import deltas as deltas_module
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.deltas import Deltas
from cursor_bridge.protocol.framing import encode_envelope
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.protocol.wire import len_field


def text_frame(raw: bytes) -> bytes:
    """A text_delta frame holding `raw` as its text bytes (UTF-8 or not)."""
    return encode_envelope(len_field(1, len_field(1, len_field(1, raw))))


def token_frame(count: int) -> bytes:
    """A token_delta frame; a zero count written out (protobuf itself leaves it out)."""
    if count < 0x80:
        return encode_envelope(bytes((0x0A, 4, 0x42, 2, 0x08, count)))
    message = agent.AgentServerMessage(
        interaction_update=agent.InteractionUpdate(token_delta=agent.TokenDeltaUpdate(tokens=count))
    )
    return encode_envelope(message.SerializeToString())


HEARTBEAT = encode_envelope(
    agent.AgentServerMessage(
        interaction_update=agent.InteractionUpdate(heartbeat=agent.HeartbeatUpdate())
    ).SerializeToString()
)


def reference(data: bytes, pos: int, end: int) -> tuple[str, int, int]:
    """What `skim` must take, read the plain way, frame by frame from the wire format: a
    frame with flags 0 and a payload of at most 127 bytes that is exactly
    `interaction_update{text_delta{text}}` with 1+ bytes of UTF-8 text or
    `interaction_update{token_delta{tokens}}` with one count byte; it stops at anything
    else. Returns (text, tokens, position after)."""
    texts: list[str] = []
    tokens = 0
    while end - pos >= 5:
        length = int.from_bytes(data[pos + 1 : pos + 5], "big")
        if data[pos] != 0 or length > 127 or pos + 5 + length > end:
            break
        payload = data[pos + 5 : pos + 5 + length]
        if length == 6 and payload[:5] == bytes((0x0A, 4, 0x42, 2, 0x08)) and payload[5] < 0x80:
            tokens += payload[5]
        elif length >= 7 and payload[:6] == bytes(
            (0x0A, length - 2, 0x0A, length - 4, 0x0A, length - 6)
        ):
            try:
                texts.append(payload[6:].decode())
            except UnicodeDecodeError:
                break
        else:
            break
        pos += 5 + length
    return "".join(texts), tokens, pos


def skimmed(data: bytes, pos: int, end: int) -> tuple[str, int, int]:
    deltas = Deltas()
    stop = deltas.skim(data, pos, end)
    return "".join(deltas.text), deltas.tokens, stop


# Texts: mostly words, but also any bytes at all (NULs, control bytes, frame-header lookalikes,
# continuation bytes, invalid UTF-8), and UTF-8 cut anywhere, even inside a character.
_WORD_TEXTS = st.one_of(
    st.sampled_from(["the ", "a", " quick", "日本", "é", "\n", "x" * 121, "y" * 122]).map(
        str.encode
    ),
    st.text(min_size=1, max_size=10).map(str.encode),
    st.binary(min_size=1, max_size=12),
    st.sampled_from(
        [
            b"\x00",
            b"a\x00b",
            b"\x01\x02\x03",
            b"\xa5b",  # starts with a continuation byte
            b"a\xe6\x97",  # ends inside a character
            b"\x00\x00\x00\x00\x06\x0a\x04\x42\x02\x08\x01",  # a token frame, as text
            b"\x00\x00\x00\x00\x08\x0a\x06\x0a\x04\x0a\x02ab",  # a text frame, as text
            b"\xff",
            b"\xed\xa0\x80",  # a surrogate
        ]
    ),
)
_COUNTS = st.one_of(st.just(1), st.just(1), st.sampled_from([0, 1, 2, 7, 127, 128, 300]))


def _pieces(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted({c % len(raw) for c in cuts}), len(raw)]
    return [raw[a:b] for a, b in pairwise(points) if raw[a:b]]


_CUT_WORDS = st.tuples(
    st.text(min_size=2, max_size=8).map(str.encode), st.lists(st.integers())
).map(lambda w: _pieces(*w))


_PLAIN_WORD = st.tuples(st.text("abcdé日 ", min_size=1, max_size=6), _COUNTS)
_PLAIN_WORDS = st.lists(_PLAIN_WORD, min_size=1, max_size=5).map(
    lambda words: [f for t, n in words for f in (text_frame(t.encode()), token_frame(n))]
)
_FRAMES = st.one_of(
    _PLAIN_WORDS,
    st.tuples(_WORD_TEXTS, _COUNTS).map(lambda w: [text_frame(w[0]), token_frame(w[1])]),
    st.tuples(_WORD_TEXTS, _COUNTS).map(lambda w: [text_frame(w[0]), token_frame(w[1])]),
    _WORD_TEXTS.map(lambda raw: [text_frame(raw)]),
    _COUNTS.map(lambda count: [token_frame(count)]),
    # A word's UTF-8 spread over several text frames, cut anywhere; counted once or each.
    _CUT_WORDS.map(lambda parts: [text_frame(p) for p in parts] + [token_frame(1)]),
    _CUT_WORDS.map(lambda parts: [f for p in parts for f in (text_frame(p), token_frame(1))]),
    st.sampled_from(
        [
            [HEARTBEAT],
            [encode_envelope(b"\x0a\x02\x42\x00")],  # token_delta{} (a count of 0)
            [text_frame(b"a") + b"\x40\x01"],  # a frame with bytes after the text
            [encode_envelope(b"\x0a\x04\x42\x02\x08\x01", compress=True)],
            [encode_envelope(b"{}", end_stream=True)],
            [b"\x00\x00\x00\x01\x00" + text_frame(b"a")[5:]],  # length field too large
        ]
    ),
)


@settings(max_examples=600)
@given(
    st.lists(_FRAMES, max_size=40).map(lambda groups: [f for g in groups for f in g]),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)
def test_a_skim_takes_exactly_what_a_frame_by_frame_reading_takes(
    frames: list[bytes], start: int, cut: int
) -> None:
    data = b"".join(frames)
    # From a frame boundary (as the decoder calls it) or anywhere; to the end or a cut.
    bounds = [sum(len(f) for f in frames[:i]) for i in range(len(frames) + 1)]
    pos = bounds[start % len(bounds)] if start % 2 else start % (len(data) + 1)
    end = len(data) if cut % 3 == 0 else pos + cut % (len(data) - pos + 1)
    assert skimmed(data, pos, end) == reference(data, pos, end)


def words(*texts: str, count: int = 1) -> bytes:
    return b"".join(text_frame(t.encode()) + token_frame(count) for t in texts)


def test_a_run_of_words_is_read_whole() -> None:
    data = words(*(f"w{i} " for i in range(500)))
    assert skimmed(data, 0, len(data)) == ("".join(f"w{i} " for i in range(500)), 500, len(data))


def test_counts_other_than_one_are_summed() -> None:
    data = words("a", "bc", count=2) + words("d", "e", count=127) + words("f", "g")
    assert skimmed(data, 0, len(data)) == ("abcdefg", 2 * 2 + 2 * 127 + 2, len(data))


def test_a_zero_count_in_a_run_is_read_as_the_full_path_reads_it() -> None:
    # Its NUL count byte runs into the next frame's NULs: not for the C path, still skimmed.
    data = words("a", "b") + words("c", count=0) + words("d", "e", "f")
    assert skimmed(data, 0, len(data)) == ("abcdef", 5, len(data))


def test_invalid_utf8_in_a_run_stops_the_skim_right_before_it() -> None:
    good = words("one ", "two ", "three ")
    data = good + text_frame(b"\xff") + token_frame(1) + words("four ", "five ")
    assert skimmed(data, 0, len(data)) == ("one two three ", 3, len(good))
    assert reference(data, 0, len(data)) == skimmed(data, 0, len(data))


def test_a_run_that_is_not_utf8_is_not_tried_again_word_by_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # After one try, the words up to its end go frame by frame: no C pass per word (that
    # would make a long run ending in a bad text quadratic).
    tries: list[int] = []

    class Counting:
        def match(self, data: bytes, pos: int, end: int) -> re.Match[bytes] | None:
            tries.append(pos)
            return pairs.match(data, pos, end)

    pairs = deltas_module._PAIRS
    monkeypatch.setattr(deltas_module, "_PAIRS", Counting())
    good = words(*(f"w{i} " for i in range(100)))
    data = good + text_frame(b"\xc3") + token_frame(1)
    assert skimmed(data, 0, len(data)) == ("".join(f"w{i} " for i in range(100)), 100, len(good))
    assert tries == [0]


def test_a_character_cut_between_two_frames_is_not_joined_up() -> None:
    # Each text must be UTF-8 by itself, as the full decoder reads it.
    raw = "日".encode()
    data = words("ab ", "cd ") + text_frame(b"x" + raw[:2]) + token_frame(1)
    data += text_frame(raw[2:] + b"y") + token_frame(1) + words("ef ", "gh ")
    assert skimmed(data, 0, len(data)) == ("ab cd ", 2, len(words("ab ", "cd ")))


def test_nul_bytes_and_lookalike_frames_in_a_text_are_text() -> None:
    fake = b"\x00\x00\x00\x00\x06\x0a\x04\x42\x02\x08\x05"
    data = words("a ", "b ") + text_frame(b"x" + fake) + token_frame(1) + words("c ", "d ")
    assert skimmed(data, 0, len(data)) == ("a b x" + fake.decode() + "c d ", 5, len(data))


def test_a_merged_chunk_of_many_words_gives_one_event_each() -> None:
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    machine.start(agent.AgentRunRequest())
    data = words(*(f"w{i} " for i in range(50))) + HEARTBEAT + words("x ", "y ", "z ")
    assert machine.receive_data(data) == [
        ev.TextDelta("".join(f"w{i} " for i in range(50))),
        ev.TokenDelta(50),
        ev.ServerHeartbeat(),
        ev.TextDelta("x y z "),
        ev.TokenDelta(3),
    ]
