"""The chat stream's chunks (dialects/openai_chat.py ChunkWriter), assembled from parts for
speed, are byte for byte what json.dumps of the chunk objects gives."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cursor_bridge.dialects.openai_chat import ChunkWriter, chunk, sse, sse_text
from cursor_bridge.engine.output import ToolCall

NAMES = st.text(max_size=30)


@given(NAMES, NAMES, st.integers(min_value=0, max_value=2**40), st.text(max_size=40))
def test_deltas_are_the_chunk_objects(ident: str, model: str, created: int, text: str) -> None:
    writer = ChunkWriter(ident, model, created)
    for field in ("content", "reasoning_content"):
        assert writer.delta(field, text) == sse_text(chunk(ident, model, created, {field: text}))
    assert writer.role() == sse_text(
        chunk(ident, model, created, {"role": "assistant", "content": ""})
    )


@given(NAMES, NAMES, st.integers(min_value=0, max_value=2**40), st.one_of(NAMES, st.none()))
def test_the_finish_is_the_chunk_object(
    ident: str, model: str, created: int, reason: str | None
) -> None:
    writer = ChunkWriter(ident, model, created)
    expected = sse_text(chunk(ident, model, created, {}, reason))
    assert writer.finish(reason) == expected  # type: ignore[arg-type]
    assert json.loads(expected[len("data: ") :])["choices"][0]["finish_reason"] == reason


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), JSON, max_size=5))
def test_events_are_json_dumps_of_their_data(data: dict[str, object]) -> None:
    """The events' shared encoder writes what json.dumps(..., separators=(",", ":")) does
    (floats like NaN included), for any object."""
    expected = "data: " + json.dumps(data, separators=(",", ":")) + "\n\n"
    assert sse_text(data) == expected
    assert sse(data) == expected.encode()
    assert sse_text("[DONE]") == "data: [DONE]\n\n"


@given(NAMES, NAMES, st.integers(min_value=0, max_value=2**40), NAMES, NAMES, NAMES)
def test_tool_call_chunks_are_json_dumps_of_the_chunk_objects(
    ident: str, model: str, created: int, call_id: str, name: str, arguments: str
) -> None:
    writer = ChunkWriter(ident, model, created)
    call = ToolCall(2, call_id, name, arguments)
    head = {"index": 2, "id": call_id, "type": "function",
            "function": {"name": name, "arguments": ""}}  # fmt: skip
    args = {"index": 2, "function": {"arguments": arguments}}
    expected = "".join(
        "data: " + json.dumps(chunk(ident, model, created, delta), separators=(",", ":")) + "\n\n"
        for delta in ({"tool_calls": [head]}, {"tool_calls": [args]})
    )
    assert writer.tool_call(call) == expected
