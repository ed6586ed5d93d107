"""Opening and ending a request stream without h2's frame objects writes what h2 writes:
the same bytes, the same stream and connection state, the same refusals."""

from __future__ import annotations

import random

import pytest
from h2.connection import H2Connection
from h2.events import RequestReceived, StreamEnded
from h2.exceptions import H2Error, TooManyStreamsError
from h2.settings import SettingCodes
from h2.stream import StreamState
from hpack import NeverIndexedHeaderTuple

from cursor_bridge.transport import request_frames
from cursor_bridge.transport.client_h2 import new_client_h2
from cursor_bridge.transport.header_encoder import RepeatEncoder
from cursor_bridge.transport.request_frames import request_headers

PSEUDO = [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"api.example")]


def _pair() -> tuple[H2Connection, H2Connection]:
    """Our client connection and h2's own with the same configuration and encoder, both
    past their first stream (so the connection is open) and their output discarded."""
    ours = new_client_h2()
    reference = H2Connection(config=ours.config)
    reference.encoder = RepeatEncoder()
    reference.local_settings = ours.local_settings
    for h2 in (ours, reference):
        h2.initiate_connection()
        h2.send_headers(1, [*PSEUDO, (b":path", b"/first")])
        h2.data_to_send()
    return ours, reference


def _headers(rng: random.Random) -> list[request_frames.Header]:
    headers = [("content-type", "application/connect+proto"), ("te", "trailers")]
    headers.append(("authorization", f"Bearer {rng.choice(['a', 'b' * 300])}"))
    headers.append(("x-request-id", str(rng.getrandbits(64))))
    headers.extend((f"x-extra-{rng.randrange(5)}", "v" * rng.randrange(40)) for _ in range(3))
    path = (b":path", b"/agent.v1.AgentService/Run")
    return request_headers([*PSEUDO, path], headers)


def _state(h2: H2Connection, stream_id: int) -> tuple[object, ...]:
    """Everything h2 keeps of the connection's stream bookkeeping and of the stream: the
    state machines' every attribute, the windows, what the stream kept of its headers."""
    stream = h2.streams.get(stream_id)
    kept: dict[str, object] = {}
    if stream is not None:
        kept = {k: v for k, v in vars(stream).items() if k not in ("state_machine", "config")}
        kept["_inbound_window_manager"] = vars(stream._inbound_window_manager)
        kept["state_machine"] = vars(stream.state_machine)
        kept["config"] = stream.config is h2.config
    return (
        h2.state_machine.state,
        h2.highest_outbound_stream_id,
        h2.highest_inbound_stream_id,
        sorted(h2.streams),
        h2.outbound_flow_control_window,
        kept,
    )


@pytest.mark.parametrize("seed", range(20))
def test_opening_and_ending_streams_writes_what_h2_writes(seed: int) -> None:
    rng = random.Random(seed)
    ours, reference = _pair()
    frame_size = rng.choice([16_384, 64])  # small: header blocks need CONTINUATION frames
    for h2 in (ours, reference):
        h2.max_outbound_frame_size = frame_size
    open_ids: list[int] = []
    for _ in range(30):
        if open_ids and rng.random() < 0.4:
            stream_id = open_ids.pop(rng.randrange(len(open_ids)))
            moves = (request_frames.end_stream, H2Connection.end_stream)
            for h2, move in zip((ours, reference), moves, strict=True):
                move(h2, stream_id)
        else:
            stream_id = ours.get_next_available_stream_id()
            headers = _headers(rng)
            request_frames.open_stream(ours, stream_id, headers)
            H2Connection.send_headers(reference, stream_id, headers)
            open_ids.append(stream_id)
        assert ours.data_to_send() == reference.data_to_send()
        assert _state(ours, stream_id) == _state(reference, stream_id)


def test_the_frames_are_understood_by_a_server() -> None:
    from h2.config import H2Configuration

    client = new_client_h2()
    server = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    client.send_headers(1, [*PSEUDO, (b":path", b"/first")])  # h2's own first stream
    headers = request_headers(
        [*PSEUDO, (b":path", b"/p")], [("authorization", "Bearer t"), ("x-a", " b ")]
    )
    request_frames.open_stream(client, 3, headers)
    request_frames.end_stream(client, 3)
    events = server.receive_data(client.data_to_send())
    received = [e for e in events if isinstance(e, RequestReceived) and e.stream_id == 3]
    assert received[0].headers[-2:] == [("authorization", "Bearer t"), ("x-a", "b")]
    assert isinstance(received[0].headers[-2], NeverIndexedHeaderTuple)
    assert any(isinstance(e, StreamEnded) and e.stream_id == 3 for e in events)


def test_the_servers_stream_limit_and_closed_streams_refuse_as_in_h2() -> None:
    ours, reference = _pair()
    for h2 in (ours, reference):
        h2.remote_settings.update({SettingCodes.MAX_CONCURRENT_STREAMS: 2})
        h2.remote_settings.acknowledge()
    headers = request_headers([*PSEUDO, (b":path", b"/p")], [])
    request_frames.open_stream(ours, 3, headers)
    with pytest.raises(TooManyStreamsError):
        request_frames.open_stream(ours, 5, headers)
    request_frames.end_stream(ours, 3)
    with pytest.raises(H2Error):
        request_frames.end_stream(ours, 3)  # our side is already closed: h2 refuses
    with pytest.raises(H2Error):
        request_frames.end_stream(ours, 99)  # never opened


def test_header_pairs_are_cached_but_request_ids_and_credentials_are_not() -> None:
    request_frames.header_pair.cache_clear()
    request_headers(PSEUDO, [("x-a", "1"), ("authorization", "Bearer s"), ("x-request-id", "r")])
    request_headers(PSEUDO, [("x-a", "1"), ("authorization", "Bearer s"), ("x-request-id", "q")])
    info = request_frames.header_pair.cache_info()
    assert (info.hits, info.misses, info.currsize) == (1, 1, 1)


def _str_headers(rng: random.Random) -> list[tuple[str, str]]:
    """Request headers as callers give them: mostly the same few, a fresh request id,
    sometimes another token, an unseen header, odd spelling or surrounding blanks."""
    headers = [("content-type", rng.choice(["application/connect+proto", "application/proto"]))]
    headers.append(("te", "trailers"))
    if rng.random() < 0.9:
        headers.insert(0, ("authorization", f"Bearer {rng.choice(['a', 'b' * 300, ''])}"))
    headers.append(("x-request-id", str(rng.getrandbits(64))))
    headers.extend((f"x-extra-{rng.randrange(4)}", "v" * rng.randrange(3)) for _ in range(2))
    if rng.random() < 0.1:
        headers.append(("x-fresh", str(rng.random()) * rng.randint(1, 200)))
    if rng.random() < 0.1:
        headers.append(("User-Agent", " ua\t"))
    if rng.random() < 0.05:
        headers.append(("Authorization", "Bearer c"))  # never indexed once lower-cased
    if rng.random() < 0.05:
        headers.append(("x-huge", "h" * 5000))  # bigger than the table: never stored
    return headers


@pytest.mark.parametrize("seed", range(30))
def test_open_request_writes_what_encoding_each_header_writes(seed: int) -> None:
    """`open_request` (remembered representations) against `open_stream` of the full
    header list (encoded header by header) on the same connection state: the same bytes,
    through table insertions, evictions and size changes."""
    rng = random.Random(seed)
    ours, reference = _pair()
    for _ in range(80):
        if rng.random() < 0.05:
            size = rng.choice([0, 128, 512, 4096])
            for h2 in (ours, reference):
                h2.encoder.header_table_size = size
        stream_id = ours.get_next_available_stream_id()
        path = (b":path", rng.choice([b"/agent.v1.AgentService/Run", b"/aiserver.v1/Other"]))
        headers = _str_headers(rng)
        request_frames.open_request(ours, stream_id, [*PSEUDO, path], headers)
        request_frames.open_stream(reference, stream_id, request_headers([*PSEUDO, path], headers))
        assert ours.data_to_send() == reference.data_to_send()
        assert _state(ours, stream_id) == _state(reference, stream_id)
        request_frames.end_stream(ours, stream_id)
        request_frames.end_stream(reference, stream_id)
        assert ours.data_to_send() == reference.data_to_send()


def test_open_request_blocks_decode_to_the_headers_given() -> None:
    from hpack import Decoder

    ours = new_client_h2()
    ours.initiate_connection()
    ours.data_to_send()
    ours.send_headers(1, [*PSEUDO, (b":path", b"/first")])
    decoder = Decoder()
    decoder.decode(ours.data_to_send()[9:], raw=True)  # the decoder follows every block
    decoder.decode(_headers_block(ours, 3, [("x-a", "1")])[9:], raw=True)
    for index, token in enumerate(["t", "t", "u", "t"]):
        stream_id = 5 + 2 * index
        headers = [("authorization", f"Bearer {token}"), ("x-a", "1"), ("x-request-id", str(index))]
        block = _headers_block(ours, stream_id, headers)[9:]
        decoded = [(bytes(n), bytes(v)) for n, v in decoder.decode(block, raw=True)]
        assert decoded[4:] == [(n.encode(), v.encode()) for n, v in headers]


def _headers_block(h2: H2Connection, stream_id: int, headers: list[tuple[str, str]]) -> bytes:
    request_frames.open_request(h2, stream_id, [*PSEUDO, (b":path", b"/p")], headers)
    return h2.data_to_send()


def test_never_indexed_representations_match_hpack() -> None:
    """`RepeatEncoder.never_indexed` against hpack's own encoder, names in the static table
    (with and without a full match), in the dynamic table, and in neither."""
    from hpack import Encoder

    ours, reference = RepeatEncoder(), Encoder()
    table_headers = [(b"x-request-id", b"seen"), (b"x-other", b"1")]
    for encoder in (ours, reference):
        encoder.encode(table_headers, huffman=False)  # indexed: both now in the table
    cases = [
        (b"authorization", b"Bearer " + b"t" * 200),
        (b"authorization", b""),  # the static entry itself: an index
        (b"x-request-id", b"fresh"),  # the name is in the dynamic table
        (b"x-request-id", b"seen"),  # and so is this very header
        (b"x-unseen", b"v"),
    ]
    for name, value in cases:
        assert ours.known() is not None
        expected = reference.add((name, value), True, False)
        assert ours.never_indexed(name, value) == expected
        assert ours.never_indexed(name, value) == expected  # remembered prefix


def test_a_table_size_change_forgets_the_representations_it_evicted() -> None:
    """A shrink evicts the oldest entries without any insertion: what was remembered of
    them must not be used afterwards, even after a block that inserts nothing."""
    ours, reference = RepeatEncoder(), RepeatEncoder()
    both = [("x-old", "a" * 20), ("x-new", "b" * 20)]
    sequence = [both, both, "shrink", [("x-new", "b" * 20)], both]
    for step in sequence:
        if step == "shrink":  # keeps x-new (the newest), not x-old
            for encoder in (ours, reference):
                encoder.header_table_size = 32 + len("x-new") + 20
            continue
        assert isinstance(step, list)
        expected = reference.encode(request_headers([], step))
        assert request_frames._block(ours, [], step) == expected


@pytest.mark.parametrize("seed", range(20))
def test_a_repeated_request_reuses_its_block_only_when_the_headers_repeat(seed: int) -> None:
    """Stream after stream with the same headers but a fresh request id (what every Run
    sends), sometimes one header changed anywhere in the list, another token, a header more
    or less, another path: `open_request` writes what encoding the whole list writes."""
    rng = random.Random(seed)
    ours, reference = _pair()
    headers = [
        ("content-type", "application/connect+proto"),
        ("te", "trailers"),
        ("authorization", "Bearer a"),
        ("x-cursor-client-version", "1.2"),
        ("x-request-id", "0"),
        ("x-cursor-timezone", "UTC"),
    ]
    path = (b":path", b"/agent.v1.AgentService/Run")
    for number in range(60):
        headers = list(headers)
        change = rng.random()
        if change < 0.1:
            at = rng.randrange(len(headers))
            if headers[at][0] != "x-request-id":
                headers[at] = (headers[at][0], headers[at][1] + "x")
        elif change < 0.15:
            at = next(i for i, (name, _) in enumerate(headers) if name == "authorization")
            headers[at] = ("authorization", rng.choice(["Bearer a", "Bearer b"]))
        elif change < 0.2:
            headers.append(("x-more", "1"))
        elif change < 0.25 and len(headers) > 6:
            headers.pop()
        elif change < 0.3:
            path = (b":path", rng.choice([b"/agent.v1.AgentService/Run", b"/other"]))
        at = next(i for i, (name, _) in enumerate(headers) if name == "x-request-id")
        headers[at] = ("x-request-id", str(number))
        stream_id = ours.get_next_available_stream_id()
        request_frames.open_request(ours, stream_id, [*PSEUDO, path], headers)
        request_frames.open_stream(reference, stream_id, request_headers([*PSEUDO, path], headers))
        assert ours.data_to_send() == reference.data_to_send()
        for h2 in (ours, reference):
            h2.end_stream(stream_id)
            h2.data_to_send()


def test_a_request_after_its_headers_list_changed_in_place_is_encoded_afresh() -> None:
    """The block reused is that of the headers as they were given, not of a list the
    caller changed afterwards."""
    ours, reference = _pair()
    headers = [("x-a", "1"), ("x-request-id", "r1")]
    path = (b":path", b"/p")
    for stream_id in (3, 5, 7):  # the third is put together from remembered parts
        request_frames.open_request(ours, stream_id, [*PSEUDO, path], headers)
        request_frames.open_stream(reference, stream_id, request_headers([*PSEUDO, path], headers))
        assert ours.data_to_send() == reference.data_to_send()
    headers[0] = ("x-a", "2")  # the same list object, changed
    request_frames.open_request(ours, 9, [*PSEUDO, path], headers)
    request_frames.open_stream(reference, 9, request_headers([*PSEUDO, path], headers))
    assert ours.data_to_send() == reference.data_to_send()


def test_ending_a_stream_the_server_ended_closes_it_as_h2_does() -> None:
    """END_STREAM on a HALF_CLOSED_REMOTE stream: the same bytes and stream state."""
    from h2.config import H2Configuration

    ours = new_client_h2()
    reference = H2Connection(config=ours.config)
    reference.encoder = RepeatEncoder()
    reference.local_settings = ours.local_settings
    pairs = []
    for h2 in (ours, reference):
        server = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        server.initiate_connection()
        h2.initiate_connection()
        h2.send_headers(3, [*PSEUDO, (b":path", b"/p")])
        server.receive_data(h2.data_to_send())
        server.send_headers(3, [(":status", "200")], end_stream=True)
        h2.receive_data(server.data_to_send())
        h2.data_to_send()
        pairs.append(h2)
    ours, reference = pairs
    assert ours.streams[3].state_machine.state is StreamState.HALF_CLOSED_REMOTE
    request_frames.end_stream(ours, 3)
    H2Connection.end_stream(reference, 3)
    assert ours.data_to_send() == reference.data_to_send()
    assert _state(ours, 3) == _state(reference, 3)
    assert ours.streams[3].state_machine.state is StreamState.CLOSED
