"""An event stream's headers are encoded once per header set and copied per response: each
response gets starlette's encoding, and changing one response's headers leaves the next
alone."""

from __future__ import annotations

from starlette.responses import Response

from cursor_bridge.server import event_stream
from cursor_bridge.server.event_stream import EventStream, Write


async def produce(write: Write) -> str:
    return ""


def starlette_encoding(headers: dict[str, str] | None) -> list[tuple[bytes, bytes]]:
    response = Response(media_type="text/event-stream", headers=headers)
    return [(k, v) for k, v in response.raw_headers if k != b"content-length"]


def test_each_response_gets_starlettes_headers_and_its_own_copy() -> None:
    for headers in (None, {}, {"cache-control": "no-cache", "x-accel-buffering": "no"}):
        first = EventStream(produce, headers)
        assert first.raw_headers == starlette_encoding(headers)
        first.headers["x-changed"] = "yes"  # in place, as a middleware may
        second = EventStream(produce, headers)
        assert second.raw_headers == starlette_encoding(headers)
        assert second.raw_headers is not first.raw_headers


def test_a_responses_own_headers_go_out_with_the_shared_set_and_are_never_kept() -> None:
    """A request's own headers (Anthropic's request-id) differ per response: kept, each
    would take a kept set's place and never be asked for again (the shared set behind
    them would then be encoded per response)."""
    shared = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    EventStream(produce, shared)
    kept = dict(event_stream._RAW_HEADERS)
    for n in range(2 * event_stream._KEPT_HEADER_SETS):
        own = {"request-id": f"req_{n}"}
        response = EventStream(produce, shared, own_headers=own)
        assert response.raw_headers == starlette_encoding({**shared, **own})
        alone = EventStream(produce, None, own_headers=own)
        assert alone.raw_headers == starlette_encoding(own)
    assert kept == event_stream._RAW_HEADERS
    # An empty own set is no set: the shared one is served from what is kept.
    assert EventStream(produce, shared, own_headers={}).raw_headers == starlette_encoding(shared)
