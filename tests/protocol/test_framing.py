"""Connect envelope framing (run-stream.md §1.5): encoder, incremental decoder, skimming.
The end-stream JSON: test_end_stream.py."""

from __future__ import annotations

import gzip
import itertools
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.protocol.errors import UpstreamProtocolError
from cursor_bridge.protocol.framing import (
    FLAG_COMPRESSED,
    FLAG_END_STREAM,
    Envelope,
    EnvelopeDecoder,
    encode_envelope,
)

FAST = settings(max_examples=200, deadline=None)


def frame(flags: int, payload: bytes) -> bytes:
    """Build a frame by hand, independently of encode_envelope."""
    return struct.pack(">BI", flags, len(payload)) + payload


def feed_all(decoder: EnvelopeDecoder, chunks: list[bytes]) -> list[Envelope]:
    out: list[Envelope] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


# --- encoding ------------------------------------------------------------------------------


def test_encode_envelope_layout() -> None:
    assert encode_envelope(b"abc") == b"\x00\x00\x00\x00\x03abc"
    assert encode_envelope(b"", end_stream=True) == b"\x02\x00\x00\x00\x00"
    big = bytes(70_000)
    assert encode_envelope(big)[:5] == b"\x00\x00\x01\x11\x70"


def test_encode_envelope_compressed_is_gzip_and_deterministic() -> None:
    data = encode_envelope(b"hello" * 100, compress=True)
    assert data[0] == FLAG_COMPRESSED
    assert int.from_bytes(data[1:5], "big") == len(data) - 5
    assert gzip.decompress(data[5:]) == b"hello" * 100
    assert encode_envelope(b"hello" * 100, compress=True) == data
    both = encode_envelope(b"x", compress=True, end_stream=True)
    assert both[0] == FLAG_COMPRESSED | FLAG_END_STREAM


# --- decoding ------------------------------------------------------------------------------


def test_decode_single_and_packed_frames() -> None:
    decoder = EnvelopeDecoder()
    data = frame(0, b"one") + frame(0, b"") + frame(0, b"three")
    assert decoder.feed(data) == [Envelope(0, b"one"), Envelope(0, b""), Envelope(0, b"three")]
    assert decoder.buffered == 0
    assert not decoder.ended


def test_decode_byte_by_byte_buffers_until_complete() -> None:
    decoder = EnvelopeDecoder()
    data = frame(0, b"payload")
    for i, byte in enumerate(data[:-1]):
        assert decoder.feed(bytes((byte,))) == []
        assert decoder.buffered == i + 1
    assert decoder.feed(data[-1:]) == [Envelope(0, b"payload")]
    assert decoder.buffered == 0


def test_decode_compressed_frame_yields_plain_payload() -> None:
    decoder = EnvelopeDecoder()
    (envelope,) = decoder.feed(frame(FLAG_COMPRESSED, gzip.compress(b"zipped")))
    assert envelope.payload == b"zipped"
    assert envelope.flags == FLAG_COMPRESSED
    assert not envelope.end_stream


def test_decode_multi_member_gzip_like_gzip_module() -> None:
    payload = gzip.compress(b"ab") + gzip.compress(b"cd")
    assert EnvelopeDecoder().feed(frame(FLAG_COMPRESSED, payload)) == [
        Envelope(FLAG_COMPRESSED, b"abcd")
    ]


def test_end_stream_frame_marks_decoder_ended() -> None:
    decoder = EnvelopeDecoder()
    out = decoder.feed(frame(0, b"msg") + frame(FLAG_END_STREAM, b"{}"))
    assert out == [Envelope(0, b"msg"), Envelope(FLAG_END_STREAM, b"{}")]
    assert out[1].end_stream
    assert decoder.ended
    assert decoder.feed(b"") == []


@pytest.mark.parametrize("flags", [0x04, 0x08, 0x80, 0xFF])
def test_unknown_flags_rejected_at_the_header(flags: int) -> None:
    decoder = EnvelopeDecoder()
    with pytest.raises(UpstreamProtocolError, match="flags"):
        decoder.feed(struct.pack(">BI", flags, 3))  # the body has not even arrived


def test_oversized_frame_rejected_before_buffering_the_body() -> None:
    header = struct.pack(">BI", 0, 1025)
    decoder = EnvelopeDecoder(max_frame_size=1024)
    assert decoder.feed(header[:2]) == []
    with pytest.raises(UpstreamProtocolError, match="exceeds"):
        decoder.feed(header[2:])  # raised as soon as the header is whole
    huge = EnvelopeDecoder(max_frame_size=1024)
    with pytest.raises(UpstreamProtocolError):
        huge.feed(struct.pack(">BI", 0, 0xFFFFFFFF))


def test_frame_of_exactly_the_limit_is_accepted() -> None:
    decoder = EnvelopeDecoder(max_frame_size=1024)
    assert decoder.feed(frame(0, bytes(1024))) == [Envelope(0, bytes(1024))]


def test_compressed_bomb_rejected() -> None:
    limit = 64 * 1024
    bomb = gzip.compress(bytes(16 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < limit  # the frame itself is within the limit
    with pytest.raises(UpstreamProtocolError, match="limit"):
        EnvelopeDecoder(max_frame_size=limit).feed(frame(FLAG_COMPRESSED, bomb))


def test_compressed_frame_inflating_to_exactly_the_limit_is_accepted() -> None:
    limit = 4096
    decoder = EnvelopeDecoder(max_frame_size=limit)
    assert decoder.feed(frame(FLAG_COMPRESSED, gzip.compress(bytes(limit)))) == [
        Envelope(FLAG_COMPRESSED, bytes(limit))
    ]
    over = EnvelopeDecoder(max_frame_size=limit)
    with pytest.raises(UpstreamProtocolError):
        over.feed(frame(FLAG_COMPRESSED, gzip.compress(bytes(limit + 1))))
    # Several members together are bounded too.
    members = EnvelopeDecoder(max_frame_size=limit)
    with pytest.raises(UpstreamProtocolError):
        members.feed(frame(FLAG_COMPRESSED, gzip.compress(bytes(limit)) * 2))


@pytest.mark.parametrize(
    "payload",
    [
        b"not gzip at all",
        gzip.compress(b"hello world" * 10)[:-9],  # truncated stream
        gzip.compress(b"hello") + b"trailing junk",
        zlib.compress(b"zlib, not gzip"),
    ],
    ids=["garbage", "truncated", "trailing-junk", "zlib-header"],
)
def test_bad_compressed_payload_rejected(payload: bytes) -> None:
    with pytest.raises(UpstreamProtocolError):
        EnvelopeDecoder().feed(frame(FLAG_COMPRESSED, payload))


def test_data_after_end_stream_in_the_same_chunk_rejected() -> None:
    decoder = EnvelopeDecoder()
    with pytest.raises(UpstreamProtocolError, match="after the end-stream"):
        decoder.feed(frame(FLAG_END_STREAM, b"{}") + b"\x00")


def test_data_after_end_stream_in_a_later_chunk_rejected() -> None:
    decoder = EnvelopeDecoder()
    decoder.feed(frame(FLAG_END_STREAM, b"{}"))
    with pytest.raises(UpstreamProtocolError, match="after the end-stream"):
        decoder.feed(frame(0, b"late"))


def test_decoder_is_poisoned_after_an_error() -> None:
    decoder = EnvelopeDecoder()
    with pytest.raises(UpstreamProtocolError) as first:
        decoder.feed(struct.pack(">BI", 0x40, 0))
    for data in (b"", frame(0, b"fine"), frame(FLAG_END_STREAM, b"{}")):
        with pytest.raises(UpstreamProtocolError) as again:
            decoder.feed(data)
        assert again.value is first.value


# --- properties ------------------------------------------------------------------------------

payloads = st.lists(st.tuples(st.binary(max_size=300), st.booleans()), max_size=8)


@FAST
@given(
    frames=payloads,
    end=st.one_of(st.none(), st.binary(max_size=40)),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_split_decodes_like_the_whole_buffer(
    frames: list[tuple[bytes, bool]], end: bytes | None, cuts: list[int]
) -> None:
    data = b"".join(encode_envelope(p, compress=c) for p, c in frames)
    expected = [Envelope(FLAG_COMPRESSED if c else 0, p) for p, c in frames]
    if end is not None:
        data += encode_envelope(end, end_stream=True)
        expected.append(Envelope(FLAG_END_STREAM, end))

    whole = EnvelopeDecoder().feed(data)
    pieces = EnvelopeDecoder()
    chunked = feed_all(pieces, split(data, cuts))

    assert whole == chunked == expected
    assert pieces.buffered == 0
    assert pieces.ended == (end is not None)


def _feed_garbage(decoder: EnvelopeDecoder, chunks: list[bytes]) -> None:
    """Every feed returns envelopes (maybe none) or raises UpstreamProtocolError, nothing else."""
    for chunk in chunks:
        try:
            out = decoder.feed(chunk)
        except UpstreamProtocolError:
            with pytest.raises(UpstreamProtocolError):
                decoder.feed(b"")
            return
        assert isinstance(out, list)
        assert all(isinstance(e, Envelope) for e in out)
        assert decoder.buffered <= decoder.max_frame_size + 5 + len(chunk)


@FAST
@given(
    garbage=st.binary(max_size=4000),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_garbage_never_escapes_as_another_exception(garbage: bytes, cuts: list[int]) -> None:
    _feed_garbage(EnvelopeDecoder(max_frame_size=512), split(garbage, cuts))


@FAST
@given(
    flags=st.sampled_from([0, FLAG_COMPRESSED, FLAG_END_STREAM, FLAG_COMPRESSED | 0x02]),
    body=st.binary(max_size=600),
    tail=st.binary(max_size=64),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=6),
)
def test_well_formed_headers_with_garbage_bodies(
    flags: int, body: bytes, tail: bytes, cuts: list[int]
) -> None:
    """Valid headers around random (often not gzip) bodies and trailing bytes."""
    data = frame(0, b"ok") + frame(flags, body) + tail
    _feed_garbage(EnvelopeDecoder(max_frame_size=512), split(data, cuts))


# --- skimming ------------------------------------------------------------------------------


class _SkimOnes:
    """A skimmer that consumes plain frames whose payload is exactly b"1", and records
    where it was offered a boundary."""

    def __init__(self) -> None:
        self.taken = 0
        self.offered: list[int] = []

    def __call__(self, data: bytes, pos: int, end: int) -> int:
        self.offered.append(pos)
        while end - pos >= 6 and data[pos : pos + 6] == b"\x00\x00\x00\x00\x011":
            self.taken += 1
            pos += 6
        return pos


def test_a_skimmer_takes_its_frames_in_wire_order_and_the_rest_come_as_envelopes() -> None:
    data = frame(0, b"1") + frame(0, b"1") + frame(0, b"x") + frame(0, b"1") + frame(2, b"{}")
    skim = _SkimOnes()
    seen = []
    for envelope in EnvelopeDecoder().frames(data, skim):
        seen.append((skim.taken, envelope))  # lazily: what was skimmed before this one
    assert seen == [(2, Envelope(0, b"x")), (3, Envelope(2, b"{}"))]


@FAST
@given(st.lists(st.sampled_from([b"1", b"x", b"", b"11"]), max_size=20), st.lists(st.integers()))
def test_skimmed_or_not_every_frame_is_seen_once_whatever_the_chunking(
    payloads: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(frame(0, p) for p in payloads)
    decoder, skim = EnvelopeDecoder(), _SkimOnes()
    envelopes = [e for chunk in split(data, cuts) for e in decoder.frames(chunk, skim)]
    assert skim.taken == payloads.count(b"1")
    assert [e.payload for e in envelopes] == [p for p in payloads if p != b"1"]
    assert decoder.buffered == 0


def test_no_skimmer_under_a_frame_limit_smaller_than_what_it_may_take() -> None:
    # A skimmer may consume payloads up to 127 bytes without checking the decoder's limit.
    skim = _SkimOnes()
    strict = EnvelopeDecoder(max_frame_size=100)
    assert list(strict.frames(frame(0, b"1"), skim)) == [Envelope(0, b"1")]
    assert skim.offered == []


def test_a_skimmer_never_sees_flagged_frames_as_its_own() -> None:
    compressed = frame(FLAG_COMPRESSED, gzip.compress(b"1"))
    skim = _SkimOnes()
    assert list(EnvelopeDecoder().frames(compressed, skim)) == [Envelope(FLAG_COMPRESSED, b"1")]
    assert skim.taken == 0
