"""`read_hot_at`: a hot message read where it lies inside a received chunk is exactly
`read_hot` of its bytes cut out, whatever comes before and after it (the next frame)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hot_messages import hot_messages, mutated

from cursor_bridge.protocol.hot_messages import KV_SET, read_hot, read_hot_at

# What may follow a message in a chunk, chosen to tempt a reader past its end: varint
# continuation bytes (a length or an id that "goes on"), a tag it would take, anything.
AFTER = st.one_of(
    st.binary(max_size=8),
    st.just(b"\x80" * 8),
    st.just(b"\x81\x01"),
    st.just(b"\x01\x08\x01"),
    st.just(b"\x12\x05hello"),
    st.just(b"\x82\x01\x02\x08\x01"),
)


def values_in_place(payload: bytes, before: bytes, after: bytes) -> Any:
    data = before + payload + after
    return read_hot_at(data, len(before), len(before) + len(payload))


@given(st.one_of(hot_messages(), mutated(), st.binary(max_size=40)), st.binary(max_size=6), AFTER)
@settings(max_examples=3000, deadline=None)
def test_a_message_read_in_place_reads_as_its_bytes_cut_out(
    payload: bytes, before: bytes, after: bytes
) -> None:
    hot = values_in_place(payload, before, after)
    assert hot == read_hot(payload)
    if hot is not None and hot[0] == KV_SET:
        assert type(hot[2]) is bytes and type(hot[3]) is bytes  # copies, not views


@given(hot_messages(), st.data())
@settings(max_examples=1000, deadline=None)
def test_a_message_cut_short_is_not_completed_by_the_bytes_after_it(
    payload: bytes, data: st.DataObject
) -> None:
    """Its own rest, right after the cut, must not be read as part of it."""
    cut = data.draw(st.integers(0, len(payload) - 1))
    assert read_hot_at(b"\x00" + payload, 1, 1 + cut) == read_hot(payload[:cut])


@pytest.mark.parametrize(
    ("payload", "after"),
    [
        (b"\x22\x04\x1a\x02\x12\x80", b"\x01"),  # a length cut short, completed after the end
        (b"\x22\x05\x1a\x03\x12\x80\x01", b"abc"),  # a two-byte length running past the end
        (b"\x22\x02\x08\x80", b"\x01\x1a\x00"),  # an id running past the end
        (b"\x22\x02\x08\x01", b"\x1a\x00"),  # an id, then the args only after the end
        (b"\x22\x80", b"\x01\x00"),  # the message length itself
        (b"\x0a\x01\x82", b"\x01\x02\x08\x01"),  # a step_started tag cut after one byte
        (b"\x0a\x03\x72\x01\x08", b"\x01"),  # a turn_ended count cut short
        (b"\x0a\x04\x72\x02\x08\x80", b"\x01"),
    ],
)
def test_nothing_past_the_end_is_read(payload: bytes, after: bytes) -> None:
    assert read_hot(payload) is None
    assert values_in_place(payload, b"", after) is None
    assert values_in_place(payload, b"\x22\x00", after * 3) is None
