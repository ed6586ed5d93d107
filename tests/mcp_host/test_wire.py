"""Hosted MCP results in Cursor's shapes: caps, images, numbers (pure code)."""

from __future__ import annotations

import base64

import mcp_types

from cursor_bridge.mcp_host.host import plain_numbers
from cursor_bridge.mcp_host.wire import MAX_RESULT_IMAGES, MAX_RESULT_TEXT, tool_result
from cursor_bridge.protocol.events import ExecRequested

EVENT = ExecRequested(7, "e7", "mcp_args", {}, tool_name="t")


def test_huge_results_are_cut_and_say_so() -> None:
    image = base64.b64encode(b"\x89PNG" + b"\0" * (MAX_RESULT_IMAGES // 2)).decode()
    result = mcp_types.CallToolResult(
        content=[
            mcp_types.TextContent(type="text", text="x" * (MAX_RESULT_TEXT + 10)),
            mcp_types.TextContent(type="text", text="never sent"),
            mcp_types.ImageContent(type="image", data=image, mime_type="image/png"),
            mcp_types.ImageContent(type="image", data=image, mime_type="image/png"),
        ]
    )
    message = tool_result(EVENT, result)
    items = message.mcp_result.success.content
    kinds = [item.WhichOneof("content") for item in items]
    assert kinds == ["text", "image", "text"]  # the second image would pass the cap
    assert len(items[0].text.text) == MAX_RESULT_TEXT
    assert items[-1].text.text == "[the result was cut: it was too large]"
    assert (message.id, message.exec_id) == (7, "e7")


def test_tool_errors_keep_their_text_and_flag() -> None:
    result = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text="no such city")], is_error=True
    )
    success = tool_result(EVENT, result).mcp_result.success
    assert success.is_error and success.content[0].text.text == "no such city"


def test_whole_numbers_from_protobuf_values_become_integers() -> None:
    assert plain_numbers({"a": 2.0, "b": [1.5, 3.0], "c": {"d": -0.0}, "e": "2.0"}) == {
        "a": 2,
        "b": [1.5, 3],
        "c": {"d": 0},
        "e": "2.0",
    }
