"""The varint readers of protocol/wire.py: the full one and the short one of the hot path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cursor_bridge.protocol.errors import UpstreamProtocolError
from cursor_bridge.protocol.wire import encode_varint, short_varint, varint


@given(st.integers(min_value=0, max_value=2**64 - 1), st.binary(max_size=3))
def test_varint_reads_what_encode_wrote(value: int, tail: bytes) -> None:
    data = b"\x01" + encode_varint(value) + tail
    assert varint(data, 1) == (value, len(data) - len(tail))


@given(st.integers(min_value=0, max_value=2**28 - 1), st.binary(max_size=3))
def test_short_varint_agrees_below_two_to_the_28(value: int, tail: bytes) -> None:
    data = encode_varint(value) + tail
    assert short_varint(data, 0) == varint(data, 0)


@given(st.integers(min_value=2**28, max_value=2**64 - 1))
def test_short_varint_leaves_longer_ones_to_the_full_reader(value: int) -> None:
    assert short_varint(encode_varint(value), 0)[0] == -1


def test_truncated_varints() -> None:
    assert short_varint(b"\x80\x80", 0)[0] == -1
    with pytest.raises(UpstreamProtocolError):
        varint(b"\x80\x80", 0)
    with pytest.raises(UpstreamProtocolError):
        varint(b"\xff" * 11, 0)  # longer than 64 bits
