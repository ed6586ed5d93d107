"""The client's direct receive path for response HEADERS against h2's own."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

from h2.connection import H2Connection
from hpack import Encoder
from hyperframe.frame import HeadersFrame, PingFrame, SettingsFrame, WindowUpdateFrame

from cursor_bridge.transport.client_h2 import ClientH2Connection, new_client_h2
from tests.transport.test_client_h2 import REQUEST, _data_frame, _received


def _many_streams_pair(count: int) -> tuple[ClientH2Connection, ClientH2Connection]:
    """As `_receiving_pair`, with `count` streams open (1, 3, ...), every fifth half-closed
    by the client."""
    pair = (new_client_h2(), new_client_h2())
    reference = pair[1]
    reference.receive_data = partial(H2Connection.receive_data, reference)  # type: ignore[method-assign]
    for h2 in pair:
        h2.initiate_connection()
        for stream_id in range(1, 2 * count, 2):
            h2.send_headers(stream_id, REQUEST, end_stream=stream_id % 10 == 1)
        h2.receive_data(SettingsFrame(0).serialize())
        h2.data_to_send()
    return pair[0], reference


_RESPONSES: list[list[tuple[str, str]]] = [
    [(":status", "200"), ("content-type", "application/connect+proto")],
    [(":status", "200"), ("content-type", "application/connect+proto"), ("x-a", "1")],
    [(":status", "404"), ("content-length", "0")],
]
_REFUSED: list[list[tuple[str, str]]] = [
    [(":status", "200"), ("content-length", "x1")],
    [(":status", "200"), ("Upper", "case")],
    [(":status", "200"), ("connection", "close")],
    [("content-type", "text/plain")],  # no :status
    [("x-a", "1"), (":status", "200")],  # a pseudo-header after a regular one
]


def _headers_frame(stream_id: int, block: bytes, flags: list[str]) -> bytes:
    frame = HeadersFrame(stream_id, data=block)
    for flag in flags:
        frame.flags.add(flag)
    return frame.serialize()


def _headers_wire(rng: random.Random, seed: int) -> tuple[bytes, bool]:
    """A server's frames for up to 130 streams: responses from a few header sets in any order (so
    most blocks are indexed fields), 1xx, trailers, DATA, content-length, END_STREAM,
    PRIORITY, a block replayed after the table changed under it; then one refusal (or
    none); and whether a refusal ends it."""
    encoder = Encoder()
    fresh = iter(range(1, 260, 2))
    wire = b""

    def respond(headers: list[tuple[str, str]], *flags: str) -> tuple[int, bytes]:
        nonlocal wire
        stream_id = next(fresh)
        block = encoder.encode(headers)
        wire += _headers_frame(stream_id, block, ["END_HEADERS", *flags])
        return stream_id, block

    for scene in rng.choices(range(8), k=30):
        if scene <= 2:
            end = ["END_STREAM"] if rng.random() < 0.2 else []
            respond(_RESPONSES[rng.choice([0, 0, 0, 1, 2])], *end)
        elif scene == 3:  # 1xx, then the response
            stream_id = next(fresh)
            for headers in ([(":status", "103"), ("link", "</a>")], _RESPONSES[0]):
                block = encoder.encode(headers)
                wire += _headers_frame(stream_id, block, ["END_HEADERS"])
        elif scene == 4:  # DATA, trailers; a content-length kept
            stream_id, _ = respond([(":status", "200"), ("content-length", "4")])
            wire += _data_frame(stream_id, b"body")
            trailers = encoder.encode([("grpc-status", "0")])
            wire += _headers_frame(stream_id, trailers, ["END_HEADERS", "END_STREAM"])
        elif scene == 5:  # the same bytes, meaning other headers once the table changed
            value = str(rng.randrange(10**6))
            respond([(":status", "200"), ("x-b", "0")])
            _, indexed = respond([(":status", "200"), ("x-b", "0")])
            respond([(":status", "200"), ("x-b", value)])
            wire += _headers_frame(next(fresh), indexed, ["END_HEADERS"])
        elif scene == 6:
            respond(_RESPONSES[0], "PRIORITY")
        else:  # frames that leave the HPACK tables be, between responses
            wire += rng.choice(
                [
                    WindowUpdateFrame(0, window_increment=100).serialize(),
                    PingFrame(0, opaque_data=b"12345678").serialize(),
                    WindowUpdateFrame(1, window_increment=100).serialize(),
                ]
            )
    refusal = seed % 8
    if refusal < len(_REFUSED):
        respond(_REFUSED[refusal])
    elif refusal == 5:  # trailers without END_STREAM (an indexed block: the second)
        for flags in (["END_STREAM"], []):
            stream_id, _ = respond(_RESPONSES[0])
            block = encoder.encode([("grpc-status", "0")])
            wire += _headers_frame(stream_id, block, ["END_HEADERS", *flags])
    elif refusal == 6:  # a body longer than its content-length (an indexed block: the second)
        for body in (b"body", b"body!"):
            stream_id, _ = respond([(":status", "200"), ("content-length", "4")])
            wire += _data_frame(stream_id, body, end_stream=True)
    return wire, refusal < 7


def test_receiving_response_headers_does_what_h2_does() -> None:
    """The direct HEADERS path (blocks of indexed fields): the same events, errors, states
    and answers as h2's, frames split anywhere."""
    direct = 0
    for seed in range(80):
        rng = random.Random(seed)
        ours, reference = _many_streams_pair(130)

        def counted(*args: Any, taken: Any = ours._receive_headers_direct) -> bool:
            nonlocal direct
            took: bool = taken(*args)
            direct += took
            return took

        ours._receive_headers_direct = counted  # type: ignore[method-assign]
        wire, refused = _headers_wire(rng, seed)
        pos = 0
        result: list[object] = []
        while pos < len(wire):
            step = rng.choice([1, 9, 10, 30, 400, 5000])
            data, pos = wire[pos : pos + step], pos + step
            result = _received(ours, data)
            assert result == _received(reference, data), f"seed {seed}"
            assert not isinstance(result[0], str) or pos >= len(wire), f"seed {seed}"
        assert isinstance(result[0], str) == refused, f"seed {seed}"
    assert direct > 1000


def test_remembered_headers_are_not_shared_with_the_events() -> None:
    """Each event gets its own header list: changing one changes no later event."""
    ours, _ = _many_streams_pair(3)
    encoder = Encoder()
    wire = [_headers_frame(i, encoder.encode(_RESPONSES[0]), ["END_HEADERS"]) for i in (1, 3, 5)]
    ours.receive(wire[0])
    first = ours.receive(wire[1])[0]
    assert first.headers == _RESPONSES[0]  # type: ignore[union-attr]
    first.headers.append(("x-changed", "1"))  # type: ignore[union-attr]
    assert ours.receive(wire[2])[0].headers == _RESPONSES[0]  # type: ignore[union-attr]


def test_large_header_blocks_are_left_to_h2() -> None:
    """A block of indexed fields that decodes to more than the cache takes (the same big
    entry indexed many times) is read by h2, with the same outcome."""
    ours, reference = _many_streams_pair(3)
    encoder = Encoder()
    big = [(":status", "200"), ("x-big", "v" * 1000)]
    wire = [_headers_frame(1, encoder.encode(big), ["END_HEADERS"])]
    wire.append(_headers_frame(3, encoder.encode([big[0]] + [big[1]] * 5), ["END_HEADERS"]))
    for data in wire:
        assert _received(ours, data) == _received(reference, data)
    assert not ours._header_blocks


def test_remembered_headers_outlive_frames_that_leave_the_tables_be() -> None:
    """A server's WINDOW_UPDATEs and PINGs between responses do not make the next indexed
    response be decoded again; a literal that changes the table does."""
    ours, reference = _many_streams_pair(6)
    decoded = 0
    decode = ours.decoder.decode

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal decoded
        decoded += 1
        return decode(*args, **kwargs)

    ours.decoder.decode = counting  # type: ignore[method-assign]
    encoder = Encoder()
    between = WindowUpdateFrame(0, window_increment=10).serialize()
    between += PingFrame(0, opaque_data=b"12345678").serialize()
    wire = [
        _headers_frame(1, encoder.encode(_RESPONSES[1]), ["END_HEADERS"]),  # literals: h2's
        _headers_frame(3, encoder.encode(_RESPONSES[1]), ["END_HEADERS"]),  # indexed: decoded
        between + _headers_frame(5, encoder.encode(_RESPONSES[1]), ["END_HEADERS"]),
        _headers_frame(7, encoder.encode([(":status", "200"), ("x-new", "1")]), ["END_HEADERS"]),
        _headers_frame(9, encoder.encode(_RESPONSES[1]), ["END_HEADERS"]),  # decoded again
    ]
    counts = []
    for data in wire:
        assert _received(ours, data) == _received(reference, data)
        counts.append(decoded)
    assert counts[2] == counts[1] and counts[4] > counts[3]


def test_a_block_finished_by_a_continuation_frame_forgets_remembered_headers() -> None:
    """A header block whose CONTINUATION arrives on its own (read by h2) may change the
    table: an indexed block remembered before means other headers after it."""
    from hyperframe.frame import ContinuationFrame

    ours, reference = _many_streams_pair(4)
    encoder = Encoder()
    literal = encoder.encode([(":status", "200"), ("x-b", "0")])
    indexed = encoder.encode([(":status", "200"), ("x-b", "0")])
    changing = encoder.encode([(":status", "200"), ("x-b", "changed")])
    cut = ContinuationFrame(5, data=changing[1:], flags=["END_HEADERS"]).serialize()
    wire = [
        _headers_frame(1, literal, ["END_HEADERS"]),
        _headers_frame(3, indexed, ["END_HEADERS"]),  # remembered
        _headers_frame(5, changing[:1], []),
        cut,  # alone: the table changes here
        _headers_frame(7, indexed, ["END_HEADERS"]),  # the same bytes, now x-b: changed
    ]
    for data in wire:
        result = _received(ours, data)
        assert result == _received(reference, data)
    assert "changed" in repr(result[0])
