"""The client's h2 state machine against an in-memory h2 server (no sockets)."""

from __future__ import annotations

import random
from functools import partial

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RequestReceived
from h2.exceptions import H2Error, TooManyStreamsError
from h2.settings import SettingCodes
from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from cursor_bridge.transport.client_h2 import (
    CONNECTION_WINDOW,
    ClientH2Connection,
    new_client_h2,
)

REQUEST = [(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", "/p")]


def connected(max_streams: int) -> tuple[H2Connection, H2Connection]:
    client = new_client_h2()
    server = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
    client.initiate_connection()
    server.initiate_connection()
    server.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: max_streams})
    exchange(client, server)
    return client, server


def exchange(client: H2Connection, server: H2Connection) -> list[object]:
    """Shuttle bytes both ways until both sides are quiet; the server's events."""
    events: list[object] = []
    while True:
        to_server, to_client = client.data_to_send(), server.data_to_send()
        if not to_server and not to_client:
            return events
        events.extend(server.receive_data(to_server))
        client.receive_data(to_client)


def open_stream(client: H2Connection) -> int:
    stream_id = client.get_next_available_stream_id()
    client.send_headers(stream_id, REQUEST)
    return stream_id


def finish(client: H2Connection, server: H2Connection, stream_id: int) -> None:
    client.end_stream(stream_id)
    exchange(client, server)
    server.send_headers(stream_id, [(":status", "200")], end_stream=True)
    exchange(client, server)


def test_the_servers_stream_limit_still_holds() -> None:
    client, server = connected(max_streams=5)
    for _ in range(3):  # closed streams h2 may still be tracking do not count
        finish(client, server, open_stream(client))
    ids = [open_stream(client) for _ in range(5)]
    with pytest.raises(TooManyStreamsError):
        open_stream(client)
    finish(client, server, ids[0])
    open_stream(client)  # a closed stream makes room


def test_closed_streams_are_dropped_while_thousands_come_and_go() -> None:
    client, server = connected(max_streams=1000)
    live = [open_stream(client) for _ in range(10)]
    for _ in range(2000):
        stream_id = open_stream(client)
        assert any(isinstance(e, RequestReceived) for e in exchange(client, server))
        finish(client, server, stream_id)
    # Only the live streams plus a bounded backlog of closed ones are kept.
    assert len(client.streams) < 200
    assert len(live) <= client.open_outbound_streams < 200


@pytest.mark.parametrize("seed", range(10))
def test_counting_open_streams_drops_closed_ones_as_h2_does(seed: int) -> None:
    """The recount (made when the bound reaches the limit): the same count, the same streams
    kept, the same notes of how the dropped ones closed, as h2's own."""
    import copy

    from h2.stream import H2Stream, StreamClosedBy, StreamState

    rng = random.Random(seed)
    ours = new_client_h2()
    for stream_id in range(1, 400, rng.choice([1, 2])):  # some even (server) ids too
        stream = H2Stream(stream_id, ours.config, 65535, 65535)
        stream.state_machine.state = rng.choice(list(StreamState))
        if stream.state_machine.state is StreamState.CLOSED:
            stream.state_machine.stream_closed_by = rng.choice([None, *StreamClosedBy])
        ours.streams[stream_id] = stream
    reference = copy.deepcopy(ours)
    ours._prune_at = 0  # count now
    count = ours.open_outbound_streams
    assert count == H2Connection.open_outbound_streams.fget(reference)  # type: ignore[attr-defined]
    assert sorted(ours.streams) == sorted(reference.streams)
    assert dict(ours._closed_streams) == dict(reference._closed_streams)
    assert len(ours.streams) < 400


def _open_pair(windows: int) -> tuple[H2Connection, H2Connection, int]:
    """Our client connection and h2's own, each with one open stream and the same
    outbound windows; their output so far discarded."""
    ours = new_client_h2()
    reference = H2Connection(config=ours.config)
    pair = (ours, reference)
    for h2 in pair:
        h2.initiate_connection()
        stream_id = h2.get_next_available_stream_id()
        h2.send_headers(stream_id, [(":method", "POST"), (":scheme", "http"),
                                    (":authority", "a"), (":path", "/x")])  # fmt: skip
        h2.outbound_flow_control_window = windows
        h2.streams[stream_id].outbound_flow_control_window = windows
        h2.data_to_send()
    return ours, reference, stream_id


@pytest.mark.parametrize("seed", range(30))
def test_sending_data_writes_what_h2_writes(seed: int) -> None:
    """The direct DATA path: the same bytes, windows, stream state and refusals as h2's."""
    rng = random.Random(seed)
    ours, reference, stream_id = _open_pair(rng.choice([100, 5000, 1 << 20]))
    for _ in range(40):
        size = rng.choice([0, 1, 20, 700, 16_384, 16_385, 70_000])
        data = memoryview(
            bytes(rng.getrandbits(8) for _ in range(min(size, 64))) * (size // 64 + 1)
        )[:size]
        end = rng.random() < 0.05
        outcomes = []
        for h2 in (ours, reference):
            try:
                h2.send_data(stream_id, data, end_stream=end)
                outcomes.append(("sent", h2.data_to_send()))
            except H2Error as exc:
                outcomes.append((type(exc).__name__, h2.data_to_send()))
            stream = h2.streams.get(stream_id)
            outcomes.append(
                (
                    h2.outbound_flow_control_window,
                    stream.outbound_flow_control_window if stream else None,
                    stream.state_machine.state if stream else None,
                )
            )
        assert outcomes[:2] == outcomes[2:]


def _receiving_pair() -> tuple[ClientH2Connection, ClientH2Connection, Encoder]:
    """Our client connection and one receiving through h2's own `receive_data` (its frame
    buffer, frame objects and DATA handling), each with streams 1, 3 and 5 open, 5 then
    reset by the client, and the server's SETTINGS received; a server HPACK encoder."""
    pair = (new_client_h2(), new_client_h2())
    reference = pair[1]
    reference.receive_data = partial(H2Connection.receive_data, reference)  # type: ignore[method-assign]
    for h2 in pair:
        h2.initiate_connection()
        h2.increment_flow_control_window(CONNECTION_WINDOW - 65535)  # as Connection does
        for stream_id in (1, 3, 5):
            h2.send_headers(stream_id, REQUEST)
        h2.reset_stream(5)
        h2.receive_data(SettingsFrame(0).serialize())
        h2.data_to_send()
    return pair[0], reference, Encoder()


def _received(h2: H2Connection, data: bytes) -> list[object]:
    """What receiving *data* did: the events (as tuples) or the error, the windows, the
    streams' states and what h2 queued to send."""
    try:
        events: object = [
            (type(e).__name__, *sorted((k, repr(v)) for k, v in vars(e).items()))
            for e in h2.receive_data(data)
        ]
    except H2Error as exc:
        events = type(exc).__name__
    streams = [
        (
            stream_id,
            stream._inbound_window_manager.current_window_size,
            sorted(vars(stream.state_machine).items()),
        )
        for stream_id, stream in sorted(h2.streams.items())
    ]
    return [
        events,
        h2._inbound_flow_control_window_manager.current_window_size,
        streams,
        h2.state_machine.state,
        h2.data_to_send(),
    ]


def _response_headers(encoder: Encoder, stream_id: int, *, end_stream: bool = False) -> bytes:
    frame = HeadersFrame(stream_id)
    frame.data = encoder.encode([(":status", "200")])
    frame.flags.add("END_HEADERS")
    if end_stream:
        frame.flags.add("END_STREAM")
    return frame.serialize()


def _data_frame(
    stream_id: int, data: bytes, *, pad: int | None = None, end_stream: bool = False
) -> bytes:
    frame = DataFrame(stream_id)
    frame.data = data
    if pad is not None:
        frame.flags.add("PADDED")
        frame.pad_length = pad
    if end_stream:
        frame.flags.add("END_STREAM")
    return frame.serialize()


def _raw_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big")
        + bytes((kind, flags))
        + stream_id.to_bytes(4, "big")
        + payload
    )


@pytest.mark.parametrize("seed", range(30))
def test_receiving_data_does_what_h2_does(seed: int) -> None:
    """The direct DATA receive path: the same events, windows, states and refusals as h2's
    (padding, END_STREAM, data before the response headers, windows overrun)."""
    rng = random.Random(seed)
    ours, reference, encoder = _receiving_pair()
    headers_due = 0 if seed % 5 else 2  # every fifth: DATA before the response headers
    results = []
    for index in range(30):
        if index == headers_due:
            data = _response_headers(encoder, 1)
        else:
            data = _data_frame(
                1,
                bytes(rng.choice([0, 1, 9, 300, 16_000])),
                pad=rng.choice([0, 5]) if rng.random() < 0.2 else None,
                end_stream=index > 20 and rng.random() < 0.2,
            )
        if index > 20 and rng.random() < 0.2:  # shrink the windows: the next frames overrun them
            for h2 in (ours, reference):
                h2._inbound_flow_control_window_manager.current_window_size = 200
        result = _received(ours, data)
        assert result == _received(reference, data)
        results.append(result)
    if headers_due == 0:  # the common case is among them: a stream taking DATA frames
        assert sum(isinstance(r[0], list) and len(r[0]) == 1 for r in results) > 20


def _random_frame(rng: random.Random, encoder: Encoder, answered: set[int]) -> bytes:
    """One frame a server might send, or (rarely) a broken one: mostly DATA on the open
    streams (1 and 3; 5 was reset by the client)."""
    roll = rng.random()
    stream_id = rng.choice([1, 1, 1, 3, 3, 5])
    if roll < 0.88:
        return _data_frame(
            stream_id,
            bytes(rng.choice([0, 1, 2, 9, 300, 16_000])),
            pad=rng.choice([0, 1, 5, 255]) if rng.random() < 0.2 else None,
            end_stream=rng.random() < 0.01,
        )
    if roll < 0.9 and stream_id not in answered:  # maybe split over CONTINUATION
        answered.add(stream_id)
        block = encoder.encode([(":status", "200")])
        head = HeadersFrame(stream_id, data=block[:1]).serialize()
        rest = ContinuationFrame(stream_id, data=block[1:], flags=["END_HEADERS"]).serialize()
        return head + rest
    if roll < 0.97:
        return rng.choice(
            [
                _raw_frame(0, 0x8 | 0x20, stream_id, bytes((1, 7, 0))),  # an undefined flag
                _raw_frame(0, 0, stream_id | 0x80000000, b"reserved bit set"),
                GoAwayFrame(0, last_stream_id=rng.choice([1, 3, 5]), error_code=0).serialize(),
                PingFrame(0, opaque_data=b"12345678").serialize(),
                WindowUpdateFrame(rng.choice([0, 1, 3]), window_increment=1000).serialize(),
                SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 50}).serialize(),
                RstStreamFrame(rng.choice([1, 3]), error_code=8).serialize(),
                _raw_frame(0xEE, 0, stream_id, b"an extension frame"),
            ]
        )
    trailers = HeadersFrame(stream_id, data=encoder.encode([("grpc-status", "0")]))
    trailers.flags.add("END_HEADERS")
    trailers.flags.add("END_STREAM")
    headers_cut = HeadersFrame(stream_id, data=b"\x88").serialize()  # no END_HEADERS
    return rng.choice(
        [
            trailers.serialize(),
            headers_cut + _data_frame(stream_id, b"amid a header block"),
            _data_frame(rng.choice([7, 9, 2]), b"unknown stream"),
            _raw_frame(0, 0, 0, b"stream zero"),
            _raw_frame(0, 0x8, stream_id, b""),  # PADDED without a pad length
            _raw_frame(0, 0x8, stream_id, bytes((4, 1, 2))),  # padding longer than the frame
            _raw_frame(0, 0x8, stream_id, bytes((3, 1, 2))),  # padding as long as the frame
            _data_frame(stream_id, bytes(70_000)),  # over our MAX_FRAME_SIZE
        ]
    )


def test_receiving_frames_split_anywhere_does_what_h2_does() -> None:
    """Frames cut at any byte across reads, several to a read: every read has the same
    outcome as h2's (events, errors, windows, stream and connection states, the bytes h2
    queues in answer, e.g. RST_STREAM for a reset stream, GOAWAY for a broken frame), up
    to the first error, after which the connection is dropped. 60 random exchanges; between
    them they reach every kind of refusal."""
    errors: set[str] = set()
    data_events = 0
    for seed in range(60):
        rng = random.Random(seed)
        ours, reference, encoder = _receiving_pair()
        answered = {1, 3}
        wire = _response_headers(encoder, 1) + _response_headers(encoder, 3)
        wire += b"".join(_random_frame(rng, encoder, answered) for _ in range(80))
        pos = 0
        while pos < len(wire):
            step = rng.choice([1, 5, 9, 10, 40, 400, 5000, 20_000])
            data, pos = wire[pos : pos + step], pos + step
            if rng.random() < 0.05 and ours.streams[3].open:  # our reader lets a stream go
                for h2 in (ours, reference):
                    h2.reset_stream(3)
                    h2.data_to_send()
            result = _received(ours, data)
            assert result == _received(reference, data), f"seed {seed}"
            if isinstance(result[0], str):
                errors.add(result[0])
                break
            assert isinstance(result[0], list)
            data_events += sum(event[0] == "DataReceived" for event in result[0])
    assert errors == {
        "FrameDataMissingError",
        "FrameTooLargeError",
        "NoSuchStreamError",
        "ProtocolError",
    }
    assert data_events > 500


def test_data_frames_come_back_as_chunks_without_events() -> None:
    """What `receive` hands on for a DATA frame on a stream open for receiving: one tuple
    (stream id, data, flow-controlled length); padding counts only against the windows."""
    ours, _, encoder = _receiving_pair()
    assert [type(e).__name__ for e in ours.receive(_response_headers(encoder, 1))] == [
        "ResponseReceived"
    ]
    wire = _data_frame(1, b"hello") + _data_frame(1, b"world", pad=3)
    assert ours.receive(wire[:7]) == []
    assert ours.receive(wire[7:]) == [(1, b"hello", 5), (1, b"world", 9)]
    ended = ours.receive(_data_frame(1, b"!", end_stream=True))
    assert [type(e).__name__ for e in ended] == ["DataReceived", "StreamEnded"]


def test_a_frame_in_many_reads_is_read_once_whole() -> None:
    ours, reference, encoder = _receiving_pair()
    wire = _response_headers(encoder, 1) + _data_frame(1, bytes(range(256)) * 200)
    results = [_received(ours, wire[i : i + 7]) for i in range(0, len(wire), 7)]
    expected = [_received(reference, wire[i : i + 7]) for i in range(0, len(wire), 7)]
    assert results == expected
    assert results[-1][0] == [
        (
            "DataReceived",
            ("data", repr(bytes(range(256)) * 200)),
            ("flow_controlled_length", "51200"),
            ("stream_ended", "None"),
            ("stream_id", "1"),
        )
    ]


def test_an_oversize_frame_is_left_to_h2_as_soon_as_its_header_shows() -> None:
    """Refused as h2 refuses it (once whole), without our buffering it on the way."""
    ours, reference, encoder = _receiving_pair()
    wire = _response_headers(encoder, 1) + _data_frame(1, bytes(70_000))
    head = len(wire) - 70_000
    first = _received(ours, wire[: head + 100])
    assert first == _received(reference, wire[: head + 100])
    assert [event[0] for event in first[0]] == ["ResponseReceived"]  # type: ignore[union-attr]
    assert len(ours._partial) == 0
    assert _received(ours, wire[head + 100 : -1]) == _received(reference, wire[head + 100 : -1])
    result = _received(ours, wire[-1:])
    assert result == _received(reference, wire[-1:])
    assert result[0] == "FrameTooLargeError"
