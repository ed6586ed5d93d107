"""The body check's two walks (server/json_body.py): `_fits`, which says only whether a body
keeps every limit, and `_refuse`, which names the first limit broken and where. `check`
trusts the first and asks the second only when it says no, so the first must agree with the
second on every body: checked with the limits shrunk so small bodies break each of them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cursor_bridge.server import json_body
from cursor_bridge.server.json_body import InvalidBody

SMALL_LIMITS = {
    "MAX_KEY": 12,
    "MAX_SHORT": 7,
    "MAX_STRING": 9,
    "MAX_MESSAGES": 3,
    "MAX_DEPTH": 6,
    "MAX_VALUE_DEPTH": 3,
}
KEYS = ["messages", "input", "arguments", "parameters", "input_schema", "model", "name", "k"]
TEXT = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["[[[[1]]]]", '{"a":[[{}]]}', "[1]", "\ud800", "é\udc00", "x" * 8]),
)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), TEXT), inner, max_size=4),
    ),
    max_leaves=30,
)


def _refusal(walk: Any, body: Any) -> str | None:
    try:
        walk(body)
    except InvalidBody as exc:
        return exc.message
    return None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_the_quick_walk_agrees_with_the_naming_walk(body: Any) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SMALL_LIMITS.items():
            patch.setattr(json_body, name, value)
        named = _refusal(json_body._refuse, body)
        assert _refusal(json_body.check, body) == named
        if isinstance(body, (dict, list)):
            assert json_body._fits(body, 1, -1) is (named is None)


@pytest.mark.parametrize(
    ("body", "broken"),
    [
        ({"tools": [{"parameters": {"a": [[[1]]]}}]}, "nested more than"),  # value depth
        ({"a": [[[[[[[1]]]]]]]}, "nested more than 6 levels"),
        ({"messages": [1, 2, 3, 4]}, "at most 3 are accepted"),
        ({"m": [{"model": "12345678"}]}, "too long (over 7"),
        ({"m": {"key-far-too-long": 1}}, "too long (over 12"),
        ({"m": ["\ud800"]}, "lone surrogate"),
        ({"m": [{"arguments": "[[[[1]]]]"}]}, "nested more than 3"),
        ([{"x": "0123456789"}], "too long (over 9"),
    ],
)
def test_each_limit_is_refused_with_its_place(body: Any, broken: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SMALL_LIMITS.items():
            patch.setattr(json_body, name, value)
        assert not json_body._fits(body, 1, -1)
        with pytest.raises(InvalidBody, match=re.escape(broken)):
            json_body.check(body)


def test_top_level_keys_do_not_start_a_value() -> None:
    """Responses' top-level `input` is the conversation, not a protobuf Value: only the
    depth limit applies to it (and a top-level `arguments` string is not decoded)."""
    body = {"input": [[[[1]]]], "arguments": "[[[[1]]]]", "parameters": [[[[1]]]]}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SMALL_LIMITS.items():
            patch.setattr(json_body, name, value)
        assert json_body._fits(body, 1, -1)
        json_body.check(body)
        with pytest.raises(InvalidBody, match="nested more than 3"):
            json_body.check({"m": body})  # one level down they are values
