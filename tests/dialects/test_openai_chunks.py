"""The chat stream's chunks (dialects/openai_chat.py ChunkWriter), assembled from parts for
speed, are byte for byte what json.dumps of the chunk objects gives."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cursor_bridge.dialects.openai_chat import ChunkWriter, chunk, sse_text

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
