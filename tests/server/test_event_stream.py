"""An event stream's headers are encoded once per header set and copied per response: each
response gets starlette's encoding, and changing one response's headers leaves the next
alone."""

from __future__ import annotations

from starlette.responses import Response

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
