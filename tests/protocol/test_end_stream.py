"""The Connect end-stream JSON (run-stream.md §1.5): errors, metadata, retry times."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.protocol.errors import CONNECT_CODES, ConnectError
from cursor_bridge.protocol.framing import (
    FLAG_END_STREAM,
    EndStream,
    EnvelopeDecoder,
    encode_end_stream,
    parse_end_stream,
)

FAST = settings(max_examples=200, deadline=None)


def frame(flags: int, payload: bytes) -> bytes:
    """Build a frame by hand, independently of encode_envelope."""
    return struct.pack(">BI", flags, len(payload)) + payload


# --- end-stream JSON ------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"  \n", b"{}", b'{"metadata":{}}'])
def test_clean_end(payload: bytes) -> None:
    assert parse_end_stream(payload) == EndStream(None, {})


def test_clean_end_with_metadata() -> None:
    body = {"metadata": {"x-trace": ["a", "b"], "x-single": "v", "x-num": 3}}
    result = parse_end_stream(json.dumps(body).encode())
    assert result.error is None
    assert result.metadata == {"x-trace": ["a", "b"], "x-single": ["v"], "x-num": ["3"]}


def test_metadata_alongside_an_error() -> None:
    body = {"error": {"code": "internal", "message": "m"}, "metadata": {"k": ["v"]}}
    result = parse_end_stream(json.dumps(body).encode())
    assert result.error is not None and result.error.code == "internal"
    assert result.metadata == {"k": ["v"]}


@pytest.mark.parametrize("code", sorted(CONNECT_CODES))
def test_every_connect_code(code: str) -> None:
    body = {"error": {"code": code, "message": f"failed with {code}"}}
    error = parse_end_stream(json.dumps(body).encode()).error
    assert isinstance(error, ConnectError)
    assert (error.code, error.message, error.retry_after) == (code, f"failed with {code}", None)


@pytest.mark.parametrize(
    "raw_error",
    [{"code": "teapot", "message": "m"}, {"code": 8, "message": "m"}, {"message": "m"}],
)
def test_unknown_or_missing_code_becomes_unknown(raw_error: dict[str, object]) -> None:
    error = parse_end_stream(json.dumps({"error": raw_error}).encode()).error
    assert error is not None
    assert (error.code, error.message) == ("unknown", "m")


def test_odd_error_shapes() -> None:
    not_a_dict = parse_end_stream(b'{"error":"boom"}').error
    assert not_a_dict is not None and (not_a_dict.code, not_a_dict.message) == ("unknown", "boom")
    no_message = parse_end_stream(b'{"error":{"code":"aborted","message":5}}').error
    assert no_message is not None and (no_message.code, no_message.message) == ("aborted", "")


def test_blob_not_found_is_recognised() -> None:
    error = parse_end_stream(b'{"error":{"code":"internal","message":"Blob not found"}}').error
    assert error is not None and error.is_blob_not_found


def test_detail_types_are_kept() -> None:
    body = {
        "error": {
            "code": "resource_exhausted",
            "message": "usage limit",
            "details": [{"type": "aiserver.v1.ErrorDetails", "value": ""}, "junk"],
        }
    }
    error = parse_end_stream(json.dumps(body).encode()).error
    assert error is not None and error.details == ("aiserver.v1.ErrorDetails",)


def _retry_info_value(seconds: int, nanos: int = 0) -> str:
    """Unpadded base64 of google.rpc.RetryInfo{retry_delay: Duration}, built by hand."""

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)

    duration = b"\x08" + varint(seconds) + (b"\x10" + varint(nanos) if nanos else b"")
    message = b"\x0a" + varint(len(duration)) + duration
    return base64.b64encode(message).decode().rstrip("=")


@pytest.mark.parametrize(
    ("raw_error", "expected"),
    [
        ({"retryAfter": 3}, 3.0),
        ({"retry_after": 2.5}, 2.5),
        ({"details": [{"type": "google.rpc.RetryInfo", "debug": {"retryDelay": "1.5s"}}]}, 1.5),
        ({"details": [{"type": "google.rpc.RetryInfo", "value": _retry_info_value(7)}]}, 7.0),
        (
            {
                "details": [
                    {"type": "google.rpc.RetryInfo", "value": _retry_info_value(2, 5 * 10**8)}
                ]
            },
            2.5,
        ),
        (
            {
                "details": [
                    {"type": "aiserver.v1.ErrorDetails", "value": "AAAA"},
                    {"type": "type.googleapis.com/google.rpc.RetryInfo", "value": "CgIIBw"},
                ]
            },
            7.0,
        ),
        ({}, None),
        ({"retryAfter": "soon"}, None),
        ({"retryAfter": True}, None),
        ({"retryAfter": -1}, None),
        ({"details": [{"type": "google.rpc.RetryInfo", "debug": {"retryDelay": "xs"}}]}, None),
        ({"details": [{"type": "google.rpc.RetryInfo", "value": "!!!not base64"}]}, None),
        ({"details": [{"type": "google.rpc.RetryInfo", "value": "CgUI"}]}, None),
        ({"details": "RetryInfo"}, None),
    ],
)
def test_retry_after(raw_error: dict[str, object], expected: float | None) -> None:
    body = {"error": {"code": "unavailable", "message": "later", **raw_error}}
    error = parse_end_stream(json.dumps(body).encode()).error
    assert error is not None and error.code == "unavailable"
    assert error.retry_after == expected


def test_non_finite_retry_after_ignored() -> None:
    error = parse_end_stream(b'{"error":{"code":"unavailable","retryAfter":NaN}}').error
    assert error is not None and error.retry_after is None


@pytest.mark.parametrize(
    "payload",
    [b"{", b"not json", b"\xff\xfe\x00garbage", b"[1, 2]", b'"text"', b"null", b"[" * 50_000],
    ids=["unterminated", "words", "bad-utf", "array", "string", "null", "deep-nesting"],
)
def test_malformed_end_stream_is_internal(payload: bytes) -> None:
    result = parse_end_stream(payload)
    assert result.error is not None and result.error.code == "internal"
    assert result.metadata == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@FAST
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(["error", "metadata", "other"]), json_values, max_size=3
        ).map(lambda d: json.dumps(d).encode()),
        st.fixed_dictionaries(
            {},
            optional={
                "code": st.sampled_from([*CONNECT_CODES, "bogus"]) | json_values,
                "message": json_values,
                "details": json_values,
                "retryAfter": json_values,
            },
        ).map(lambda e: json.dumps({"error": e}).encode()),
    )
)
def test_parse_end_stream_never_raises(body: bytes) -> None:
    result = parse_end_stream(body)
    assert isinstance(result, EndStream)
    if result.error is not None:
        assert result.error.code in CONNECT_CODES
        assert isinstance(result.error.message, str)
        retry = result.error.retry_after
        assert retry is None or retry >= 0
    assert all(isinstance(v, list) for v in result.metadata.values())


@pytest.mark.parametrize("retry_after", [None, 0.0, 1.5, 30.0])
def test_encode_end_stream_round_trips(retry_after: float | None) -> None:
    data = encode_end_stream(ConnectError("unavailable", "busy", retry_after=retry_after))
    (envelope,) = EnvelopeDecoder().feed(data)
    assert envelope.end_stream
    error = parse_end_stream(envelope.payload).error
    assert error is not None
    assert (error.code, error.message, error.retry_after) == ("unavailable", "busy", retry_after)
    if retry_after is not None:
        # The binary RetryInfo alone (without the optional `debug`) carries the same delay.
        body = json.loads(envelope.payload)
        del body["error"]["details"][0]["debug"]
        alone = parse_end_stream(json.dumps(body).encode()).error
        assert alone is not None and alone.retry_after == retry_after


def test_encode_clean_end_stream() -> None:
    data = encode_end_stream()
    assert data == frame(FLAG_END_STREAM, b"{}")
    assert parse_end_stream(data[5:]) == EndStream(None, {})
