"""The directive language of the scripted model (emulator/script.py)."""

from __future__ import annotations

import json

from cursor_bridge.emulator.script import Fault, Recall, Reply, Tokens, ToolCallSpec, parse_script


def test_plain_text_is_all_prompt() -> None:
    script = parse_script("Explain /usr/bin\nplease")
    assert script.prompt == "Explain /usr/bin\nplease"
    assert script.answer == () and script.fault is None and not script.error


def test_answer_parts_keep_their_order() -> None:
    script = parse_script("question\n/reply a\n/tokens 3\n/recall\n/reply b")
    assert script.prompt == "question"
    assert script.answer == (Reply("a"), Tokens(3), Recall(), Reply("b"))
    assert Tokens(3).text() == "alpha bravo charlie"


def test_thinking_lines_join() -> None:
    assert parse_script("/think one\n/think two").thinking == "one\ntwo"


def test_tool_groups_split_at_then() -> None:
    script = parse_script('/tool read {"a": 1}\n/exec ls {}\n/then\n/tool write {}')
    assert script.tool_groups == (
        (ToolCallSpec("mcp", "read", {"a": 1}), ToolCallSpec("exec", "ls", {})),
        (ToolCallSpec("mcp", "write", {}),),
    )


def test_tool_names_may_hold_spaces_when_arguments_follow() -> None:
    script = parse_script('/tool web docs.add {"a": 1}\n/tool plain')
    assert script.tool_groups == (
        (ToolCallSpec("mcp", "web docs.add", {"a": 1}), ToolCallSpec("mcp", "plain", {})),
    )
    assert "not JSON" in parse_script("/tool foo bar").error


def test_todo_lines() -> None:
    script = parse_script("/todo pending Write tests\n/todo completed Read code")
    assert script.todos == (("pending", "Write tests"), ("completed", "Read code"))
    assert "usage: /todo" in parse_script("/todo someday Rest").error


def test_faults() -> None:
    assert parse_script("/fault stall").fault == Fault("stall")
    assert parse_script("/fault error unavailable back soon").fault == Fault(
        "error", code="unavailable", message="back soon"
    )
    assert parse_script("/fault malformed flags").fault == Fault("malformed", variant="flags")
    assert parse_script("/fault goaway close").fault == Fault("goaway", variant="close")
    assert parse_script("/fault disconnect").fault is not None
    assert Fault("disconnect").after_deltas == 3 and Fault("stall").after_deltas == 1


def test_errors_become_script_errors() -> None:
    assert "unknown fault" in parse_script("/fault explode").error
    assert "Connect code" in parse_script("/fault error teapot").error
    assert "whole number" in parse_script("/tokens many").error
    assert "unknown exec kind" in parse_script("/exec rm {}").error
    assert "JSON object" in parse_script("/tool read [1]").error


def test_a_message_quoted_as_one_json_string_is_read_through() -> None:
    quoted = json.dumps('Task:\n/tool read {"filePath": "a.txt"}\n/reply done')
    script = parse_script(quoted)
    assert script.error == ""
    ((call,),) = script.tool_groups
    assert (call.name, call.args) == ("read", {"filePath": "a.txt"})
    # OpenCode's quoting keeps raw newlines inside the quotes.
    assert parse_script('"Task:\n/reply \\"hi\\""').answer == (Reply('"hi"'),)
    # Not one string literal: left alone.
    assert parse_script('"a" and "b"').prompt == '"a" and "b"'
