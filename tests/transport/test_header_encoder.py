"""RepeatEncoder: header blocks that hpack's own decoder reads back exactly, however the
table fills, evicts, shrinks or empties; and the request headers Connection sends."""

from __future__ import annotations

import random

import pytest
from hpack import Decoder, Encoder, NeverIndexedHeaderTuple

from cursor_bridge.transport.header_encoder import RepeatEncoder
from cursor_bridge.transport.request_frames import request_headers


def _round_trip(
    encoder: Encoder, decoder: Decoder, headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    block = encoder.encode(headers)
    return [(bytes(name), bytes(value)) for name, value in decoder.decode(block, raw=True)]


def test_repeated_headers_become_one_byte_indices_after_the_first_block() -> None:
    encoder, decoder = RepeatEncoder(), Decoder()
    headers = [(b":method", b"POST"), (b"x-cursor-client-version", b"cli-1"), (b"te", b"trailers")]
    first = encoder.encode(headers)
    second = encoder.encode(headers)
    assert len(second) == 3 < len(first)
    assert [tuple(h) for h in decoder.decode(first, raw=True)] == headers
    assert [tuple(h) for h in decoder.decode(second, raw=True)] == headers


@pytest.mark.parametrize("seed", range(40))
def test_random_header_sequences_decode_exactly(seed: int) -> None:
    """Many blocks of repeated, fresh and oversized headers, with table size changes: the
    decoder (which keeps its own copy of the table) reads back every block unchanged."""
    rng = random.Random(seed)
    encoder, decoder = RepeatEncoder(), Decoder()
    decoder.max_allowed_table_size = 1 << 16
    pool = [(f"x-h{i}".encode(), f"value-{i}".encode() * rng.randint(1, 20)) for i in range(40)]
    pool += [(b":method", b"POST"), (b"content-type", b"application/connect+proto")]
    pool += [(b"x-oversized", b"o" * 5000)]  # bigger than the default table: never stored
    for _ in range(200):
        if rng.random() < 0.05:
            encoder.header_table_size = rng.choice([0, 64, 256, 4096, 1 << 14])
        headers = [rng.choice(pool) for _ in range(rng.randint(1, 12))]
        if rng.random() < 0.3:
            headers.append((b"x-fresh", str(rng.random()).encode() * rng.randint(1, 300)))
        assert _round_trip(encoder, decoder, headers) == headers


def test_never_indexed_headers_stay_out_of_the_table() -> None:
    encoder, decoder = RepeatEncoder(), Decoder()
    secret = NeverIndexedHeaderTuple(b"authorization", b"Bearer t")
    for _ in range(2):
        (decoded,) = decoder.decode(encoder.encode([secret]), raw=True)
        assert isinstance(decoded, NeverIndexedHeaderTuple)
        assert tuple(decoded) == (b"authorization", b"Bearer t")
    assert encoder.header_table.dynamic_entries == type(encoder.header_table.dynamic_entries)()


def test_request_headers_normalise_names_and_never_index_credentials_and_ids() -> None:
    headers = request_headers(
        [(b":method", b"POST")],
        [("Authorization", "Bearer t"), ("x-request-id", "r1"), ("User-Agent", " ua\t")],
    )
    assert [tuple(h) for h in headers] == [
        (b":method", b"POST"),
        (b"authorization", b"Bearer t"),
        (b"x-request-id", b"r1"),
        (b"user-agent", b"ua"),
    ]
    assert [isinstance(h, NeverIndexedHeaderTuple) for h in headers] == [
        False,
        True,
        True,
        False,
    ]
