"""server/json_body.py `_loads`: json.loads with fewer steps for a UTF-8 object. Whatever the
bytes, it gives what json.loads gives: the same value, or the same error (kind, message and
position), so the body's 400s do not change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cursor_bridge.server.json_body import InvalidBody, _decode_whole, _loads

HAND_MADE = [
    b"{}",
    b'{"a":1}  \n',
    b'{"a":1} x',
    b'{"a":1}  {}',
    b'{"a":',
    b'{"a":}',
    b'{"a":[1,]}',
    b'{"a":[1,2,{"b":null}]}\t\r\n ',
    b'{"a":"\xff"}',
    b'{"a":"\xed\xa0\x80"}',
    b'{"a":"\\ud800"}',
    b"{\x00",
    '{"a":"é"}'.encode(),
    '{"a":1}'.encode("utf-16-le"),
    '{"a":1}'.encode("utf-32-le"),
    b'{"a":NaN}',
    b'{"a":1e400}',
    b'{"a":1}\x0c',
    b'{"a":1}\xc2\xa0',
    b'{"a":1,"a":2}',
    b'{"a":"x\ny"}',
    b"{",
    b" {}",
    b"[1]",
    b"\xef\xbb\xbf{}",
    b"",
    b"{" * 50_000 + b"}" * 50_000,
]


def outcome(loads: Any, raw: bytes) -> tuple[object, ...]:
    try:
        return ("value", loads(raw))
    except RecursionError:
        return ("recursion",)
    except json.JSONDecodeError as exc:
        return ("json", exc.msg, exc.pos)
    except UnicodeDecodeError as exc:
        return ("unicode", str(exc))


@pytest.mark.parametrize("raw", HAND_MADE, ids=range(len(HAND_MADE)))
def test_hand_made_bodies_decode_as_json_loads_decodes_them(raw: bytes) -> None:
    assert outcome(_loads, raw) == outcome(json.loads, raw)


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner)),
    max_leaves=12,
)


@given(
    st.dictionaries(st.text(), JSON),
    st.sampled_from(["", " ", "\n\t\r ", " x", "}", ",", "\x0c"]),
    st.integers(min_value=0, max_value=64),
)
def test_objects_with_any_tail_or_cut_decode_as_json_loads_decodes_them(
    value: dict[str, Any], tail: str, cut: int
) -> None:
    raw = (json.dumps(value, ensure_ascii=False) + tail).encode("utf-8", "surrogatepass")
    for body in (raw, raw[: max(len(raw) - cut, 1)]):
        assert outcome(_loads, body) == outcome(json.loads, body)


@pytest.mark.parametrize("raw", [b'{"a":', b'{"a":1} x', b'{"a":"\xff"}'])
def test_broken_bodies_are_still_refused(raw: bytes) -> None:
    with pytest.raises(InvalidBody):
        _decode_whole(raw)
