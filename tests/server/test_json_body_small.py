"""The body check's shortcut (server/json_body.py `_cannot_break_limits`): a body it lets
skip the walk never breaks a limit. Checked with the limits shrunk so that small bodies can
break every one of them, on generated bodies and on hand-made ones at each edge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cursor_bridge.server import json_body
from cursor_bridge.server.json_body import InvalidBody

# Strings and lists break theirs just past the body size the shortcut takes (the smallest
# of these), the depth limits well within it.
SMALL_LIMITS = {
    "MAX_KEY": 40,
    "MAX_SHORT": 41,
    "MAX_STRING": 42,
    "MAX_MESSAGES": 20,
    "MAX_DEPTH": 6,
    "MAX_VALUE_DEPTH": 4,
}
KEYS = ["messages", "input", "arguments", "parameters", "model", "role", "content", "k" * 41]
TEXT = st.one_of(
    st.text(max_size=44),
    st.sampled_from(["{[[[{}]]]}", "[[[[[]]]]]", "\ud800", "é", "\\u0041", "\x00"]),
)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=12),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), TEXT), inner, max_size=4),
    ),
    max_leaves=20,
)


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SMALL_LIMITS.items():
        monkeypatch.setattr(json_body, name, value)


def breaks_a_limit(raw: bytes) -> bool:
    try:
        json_body.check(json.loads(raw))
    except InvalidBody:
        return True
    return False


def encodings(value: Any) -> list[bytes]:
    text = json.dumps(value, separators=(",", ":"))
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    out = [text.encode(), plain.encode("utf-8", "surrogatepass")]
    out += [plain.encode("utf-16", "surrogatepass"), text.encode("utf-16-le")]
    return out


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VALUES)
def test_a_body_that_skips_the_walk_breaks_no_limit(small_limits: None, value: Any) -> None:
    for raw in encodings(value):
        if json_body._cannot_break_limits(raw):
            assert not breaks_a_limit(raw), raw


EDGES = [
    b'{"' + b"k" * 41 + b'":1}',  # a key over MAX_KEY
    b'{"model":"' + b"m" * 42 + b'"}',  # a short field over MAX_SHORT
    b'["' + b"s" * 43 + b'"]',  # a string over MAX_STRING
    b'{"messages":[' + b",".join([b"1"] * 21) + b"]}",  # over MAX_MESSAGES
    b"[[[[[[[]]]]]]]",  # over MAX_DEPTH
    b'{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}',  # over MAX_DEPTH, in objects
    b'{"a":{"parameters":[[[[[]]]]]}}',  # a tool schema over MAX_VALUE_DEPTH
    b'{"a":{"parameters":{"b":{"c":{"d":{"e":{}}}}}}}',  # the same, in objects
    b'[{"arguments":"[[[[[1]]]]]"}]',  # tool-call arguments (a string) too deep
    b'[{"arguments":"{\\"a\\":{\\"b\\":{\\"c\\":{\\"d\\":{}}}}}"}]',  # in objects
    b'["\\ud800"]',  # an escaped lone surrogate
    b'["\xed\xa0\x80"]',  # an encoded lone surrogate (json.loads lets it through)
    '["\\ud800"]'.encode("utf-16-le"),  # escaped, in UTF-16
]


@pytest.mark.parametrize("raw", EDGES)
def test_each_limit_broken_by_a_small_body_is_still_found(small_limits: None, raw: bytes) -> None:
    assert breaks_a_limit(raw)
    assert not json_body._cannot_break_limits(raw)
    with pytest.raises(InvalidBody):
        json_body._decode_whole(raw)


def test_an_ordinary_small_request_skips_the_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[object] = []
    monkeypatch.setattr(json_body, "check", walked.append)
    body = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    assert json_body._decode_whole(json.dumps(body).encode()) == body
    assert walked == []
    big = {**body, "messages": [{"role": "user", "content": "x" * 2000}]}
    json_body._decode_whole(json.dumps(big).encode())
    assert walked == [big]
