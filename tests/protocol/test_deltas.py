"""The delta fast path: same meaning as the full decoder, merged, never for other shapes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.deltas import Deltas, read_delta
from cursor_bridge.protocol.errors import UpstreamProtocolError
from cursor_bridge.protocol.framing import encode_envelope
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine


def payload(**fields: object) -> bytes:
    update = agent.InteractionUpdate(**fields)  # type: ignore[arg-type]
    return agent.AgentServerMessage(interaction_update=update).SerializeToString()


def text(value: str) -> bytes:
    return payload(text_delta=agent.TextDeltaUpdate(text=value))


def tokens(value: int) -> bytes:
    return payload(token_delta=agent.TokenDeltaUpdate(tokens=value))


def started() -> RunMachine:
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    machine.start(agent.AgentRunRequest())
    return machine


@pytest.mark.parametrize("value", ["", "a", "héllo wörld ", "x" * 200, "日本" * 5000])
def test_text_deltas_are_read_from_their_bytes(value: str) -> None:
    assert read_delta(text(value)) == value


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**27])
def test_token_deltas_are_read_from_their_bytes(value: int) -> None:
    assert read_delta(tokens(value)) == value


def test_other_shapes_go_to_the_full_decoder() -> None:
    heartbeat = payload(heartbeat=agent.HeartbeatUpdate())
    thinking = payload(thinking_delta=agent.ThinkingDeltaUpdate(text="hmm"))
    exec_request = agent.AgentServerMessage(
        exec_server_message=agent.ExecServerMessage(id=1)
    ).SerializeToString()
    extra = text("a") + bytes((0x40, 0x01))  # a field outside the oneof rides along
    for raw in (heartbeat, thinking, exec_request, extra, b"", b"\x0a", tokens(-1), tokens(2**28)):
        assert read_delta(raw) is None
    truncated = text("abc")[:-1]
    assert read_delta(truncated) is None
    assert read_delta(b"\x0a\x05\x0a\x03\x0a\x01\xff") is None  # not UTF-8


def test_invalid_text_is_still_a_protocol_error() -> None:
    machine = started()
    with pytest.raises(UpstreamProtocolError):
        machine.receive_data(encode_envelope(b"\x0a\x05\x0a\x03\x0a\x01\xff"))


def test_a_field_outside_the_oneof_takes_the_full_path_with_the_same_meaning() -> None:
    machine = started()
    events = machine.receive_data(encode_envelope(text("a") + bytes((0x40, 0x01))))
    assert events == [ev.TextDelta("a")]


Piece = tuple[str, str | int]
pieces = st.lists(
    st.one_of(
        st.tuples(st.just("text"), st.text(max_size=12)),
        st.tuples(st.just("tokens"), st.integers(0, 5)),
        st.tuples(st.just("beat"), st.just(0)),
    ),
    max_size=30,
)


@given(pieces, st.integers(1, 64))
def test_merging_keeps_text_counts_and_order_whatever_the_chunking(
    sequence: list[Piece], size: int
) -> None:
    data = b""
    for kind, value in sequence:
        if kind == "text":
            assert isinstance(value, str)
            data += encode_envelope(text(value))
        elif kind == "tokens":
            assert isinstance(value, int)
            data += encode_envelope(tokens(value))
        else:
            data += encode_envelope(payload(heartbeat=agent.HeartbeatUpdate()))
    machine = started()
    events = [
        e for i in range(0, len(data), size) for e in machine.receive_data(data[i : i + size])
    ]

    # Between two heartbeats, the same text and token count, in order.
    def runs(items: list[tuple[str, str | int]]) -> list[tuple[str, int]]:
        out = [("", 0)]
        for kind, value in items:
            if kind == "beat":
                out.append(("", 0))
            elif kind == "text":
                out[-1] = (out[-1][0] + str(value), out[-1][1])
            else:
                out[-1] = (out[-1][0], out[-1][1] + int(value))
        return out

    seen: list[tuple[str, str | int]] = []
    for event in events:
        if isinstance(event, ev.TextDelta):
            assert event.text
            seen.append(("text", event.text))
        elif isinstance(event, ev.TokenDelta):
            seen.append(("tokens", event.tokens))
        else:
            assert isinstance(event, ev.ServerHeartbeat)
            seen.append(("beat", 0))
    assert runs(seen) == runs(sequence)
    assert machine.output_token_deltas == sum(int(v) for k, v in sequence if k == "tokens")


def test_unmerged_deltas_come_one_by_one_each_text_before_its_count() -> None:
    # A reader that cuts at a token budget needs every piece apart (engine/output_control).
    data = b"".join(encode_envelope(p) for p in (text("a "), tokens(1), text("b"), tokens(1)))
    machine = started()
    machine.merge_deltas = False
    assert machine.receive_data(data) == [
        ev.TextDelta("a "),
        ev.TokenDelta(1),
        ev.TextDelta("b"),
        ev.TokenDelta(1),
    ]
    merged = started()
    assert merged.receive_data(data) == [ev.TextDelta("a b"), ev.TokenDelta(2)]


def skimmed(raw: bytes) -> tuple[str, int] | None:
    """What Deltas.skim makes of one framed payload: (text, tokens), or None when it leaves
    the frame to the decoder."""
    deltas = Deltas()
    data = encode_envelope(raw)
    pos = deltas.skim(data, 0, len(data))
    if pos == 0:
        return None
    assert pos == len(data)
    return "".join(deltas.text), deltas.tokens


def full_path(raw: bytes) -> tuple[str, int] | None:
    delta = read_delta(raw)
    if delta is None:
        return None
    return (delta, 0) if isinstance(delta, str) else ("", delta)


@given(st.text(max_size=40))
def test_skimmed_text_is_what_the_full_path_reads(value: str) -> None:
    raw = text(value)
    if value and len(raw) <= 127:
        assert skimmed(raw) == (value, 0) == full_path(raw)
    else:
        assert skimmed(raw) is None


@pytest.mark.parametrize("value", [1, 5, 127])
def test_small_token_counts_are_skimmed(value: int) -> None:
    assert skimmed(tokens(value)) == ("", value) == full_path(tokens(value))


near_deltas = st.one_of(
    st.binary(min_size=1, max_size=40),
    # A real delta with one byte changed: the shapes closest to the ones skimmed.
    st.tuples(
        st.one_of(st.text(max_size=8).map(text), st.integers(0, 300).map(tokens)),
        st.integers(0, 63),
        st.integers(0, 255),
    ).map(lambda t: t[0][: t[1] % len(t[0])] + bytes((t[2],)) + t[0][t[1] % len(t[0]) + 1 :]),
)


@given(near_deltas)
def test_skimming_never_disagrees_with_the_full_path(raw: bytes) -> None:
    # Any payload at all: skimmed only if read_delta reads it the same.
    result = skimmed(raw)
    if result is not None:
        assert full_path(raw) == result


@pytest.mark.parametrize(
    "raw",
    [
        tokens(128),  # a two-byte count
        tokens(0),  # an empty token_delta (rare: left to read_delta)
        text(""),
        text("a") + bytes((0x40, 0x01)),  # a field outside the oneof
        payload(heartbeat=agent.HeartbeatUpdate()),
        b"\x0a\x05\x0a\x03\x0a\x01\xff",  # not UTF-8
        b"\x0a\x03\x0a\x01\x0a",  # a text field cut short
        text("x" * 130),  # over the skim limit
    ],
)
def test_other_shapes_are_left_to_the_decoder(raw: bytes) -> None:
    assert skimmed(raw) is None


def test_skimming_stops_at_the_first_frame_it_does_not_take() -> None:
    beat = encode_envelope(payload(heartbeat=agent.HeartbeatUpdate()))
    data = (
        encode_envelope(text("a")) + encode_envelope(tokens(1)) + beat + encode_envelope(text("b"))
    )
    deltas = Deltas()
    assert deltas.skim(data, 0, len(data)) == len(data) - len(beat) - len(
        encode_envelope(text("b"))
    )
    assert (deltas.text, deltas.tokens) == (["a"], 1)


def test_a_delta_cut_by_the_chunk_end_is_left_for_the_next_read() -> None:
    data = encode_envelope(text("abc"))
    assert Deltas().skim(data, 0, len(data) - 1) == 0


def test_a_chunk_of_only_deltas_is_read_whole_and_merged() -> None:
    machine = started()
    word = encode_envelope(text(" word")) + encode_envelope(tokens(1))
    assert machine.receive_data(word) == [ev.TextDelta(" word"), ev.TokenDelta(1)]
    assert machine.receive_data(word * 3) == [ev.TextDelta(" word" * 3), ev.TokenDelta(3)]
    assert machine.output_token_deltas == 4


def test_a_chunk_of_deltas_completes_a_buffered_frame_first() -> None:
    machine = started()
    beat = encode_envelope(payload(heartbeat=agent.HeartbeatUpdate()))
    word = encode_envelope(text("a")) + encode_envelope(tokens(1))
    assert machine.receive_data(beat[:3]) == []
    # The rest of the heartbeat and a word: the heartbeat comes first, then the word.
    assert machine.receive_data(beat[3:] + word) == [
        ev.ServerHeartbeat(),
        ev.TextDelta("a"),
        ev.TokenDelta(1),
    ]
    # Deltas, then the start of a frame: the deltas now, the frame once it is whole.
    assert machine.receive_data(word + beat[:2]) == [ev.TextDelta("a"), ev.TokenDelta(1)]
    assert machine.receive_data(beat[2:]) == [ev.ServerHeartbeat()]


def test_deltas_after_broken_framing_still_fail() -> None:
    machine = started()
    with pytest.raises(UpstreamProtocolError):
        machine.receive_data(b"\x40\x00\x00\x00\x00")  # an unknown flag bit
    with pytest.raises(UpstreamProtocolError):
        machine.receive_data(encode_envelope(text("a")) + encode_envelope(tokens(1)))
