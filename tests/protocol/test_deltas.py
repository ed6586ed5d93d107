"""The delta fast path: same meaning as the full decoder, merged, never for other shapes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.deltas import read_delta
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
