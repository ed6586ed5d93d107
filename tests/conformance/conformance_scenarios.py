"""Conformance scenarios shared by every dialect (issue 6, item 4).

Each scenario is one scripted emulator conversation described without any dialect: the
messages, the tools offered, the results a client would give its tool calls, and what must
come out. A dialect's driver (`test_conformance_<dialect>.py`) runs every scenario through
that dialect's official SDK or wire format, streamed and whole, turns the answer into a
neutral `Outcome` (the SDK having parsed it, so the shapes are the dialect's documented ones)
and calls `check()`. Tool scenarios loop: each round's calls are answered with `results`
until the model answers in text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

Role = Literal["system", "user", "assistant"]
Finish = Literal["stop", "tool_calls", "length"]

TOOLS: tuple[dict[str, Any], ...] = (
    {
        "name": "Read",
        "description": "Read a file and return its text",
        "parameters": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}},
            "required": ["file_path"],
        },
    },
    {
        "name": "Bash",
        "description": "Run a shell command",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
)


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any]


@dataclass
class Round:
    """One response: its text, thinking, tool calls and finish reason (neutral terms)."""

    text: str = ""
    thinking: str = ""
    calls: list[Call] = field(default_factory=list)
    finish: Finish = "stop"
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class Outcome:
    """Every round of a conversation, or the error that ended it.

    `error_status` is the HTTP status, or for an error that arrived inside a started stream,
    the status the dialect documents for that error's type.
    """

    rounds: list[Round] = field(default_factory=list)
    error_status: int | None = None
    error_message: str = ""
    error_in_stream: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    messages: tuple[tuple[Role, str], ...]
    model: str = "claude-4.6-sonnet"
    tools: bool = False
    thinking: bool = False
    # Tool name -> the result text the client answers with.
    results: dict[str, str] = field(default_factory=dict)
    # Expectations, per round (the last round is the final answer).
    calls: tuple[tuple[Call, ...], ...] = ()
    text_contains: tuple[str, ...] = ()
    text_equals: str | None = None
    thinking_equals: str | None = None
    error_status: int | None = None
    error_message: str = ""
    error_mid_stream: bool = False  # streamed, the error comes as an event after a 200

    def param(self) -> Any:
        return pytest.param(self, id=self.name)


def tool_line(name: str, arguments: dict[str, Any]) -> str:
    return f"/tool {name} {json.dumps(arguments)}"


READ_A = Call("Read", {"file_path": "a.txt"})
READ_B = Call("Read", {"file_path": "b.txt"})
BASH_LS = Call("Bash", {"command": "ls"})

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "text",
        (("user", "/reply Hello conformance world"),),
        text_equals="Hello conformance world",
    ),
    Scenario(
        "thinking",
        (("user", "/think Weighing it up\n/reply Decided"),),
        thinking=True,
        text_equals="Decided",
        thinking_equals="Weighing it up",
    ),
    Scenario(
        "history-and-system",
        (
            ("system", "You are terse."),
            ("user", "My name is Ada."),
            ("assistant", "Noted, Ada."),
            ("user", "/recall"),
        ),
        text_contains=("You are terse.", "My name is Ada.", "Noted, Ada."),
    ),
    Scenario(
        "tools-offered-but-unused",
        (("user", "/reply No tools needed"),),
        tools=True,
        text_equals="No tools needed",
    ),
    Scenario(
        "single-tool-call",
        (("user", "read a\n" + tool_line("Read", READ_A.arguments)),),
        tools=True,
        results={"Read": "alpha contents"},
        calls=((READ_A,), ()),
        text_contains=("alpha contents",),
    ),
    Scenario(
        "parallel-tool-calls",
        (
            (
                "user",
                "read both\n"
                + tool_line("Read", READ_A.arguments)
                + "\n"
                + tool_line("Bash", BASH_LS.arguments),
            ),
        ),
        tools=True,
        results={"Read": "alpha contents", "Bash": "a.txt b.txt"},
        calls=((READ_A, BASH_LS), ()),
        text_contains=("alpha contents", "a.txt b.txt"),
    ),
    Scenario(
        "multi-round-loop",
        (
            (
                "user",
                "step by step\n"
                + tool_line("Bash", BASH_LS.arguments)
                + "\n/then\n"
                + tool_line("Read", READ_B.arguments),
            ),
        ),
        tools=True,
        results={"Read": "bravo contents", "Bash": "a.txt b.txt"},
        calls=((BASH_LS,), (READ_B,), ()),
        text_contains=("bravo contents",),
    ),
    Scenario(
        # The fault fires after the first text delta: whole answers get the HTTP status,
        # streams an error event after their first events.
        "backend-rate-limit",
        (("user", "/fault error resource_exhausted slow down"),),
        error_status=429,
        error_message="slow down",
        error_mid_stream=True,
    ),
    Scenario("unknown-model", (("user", "hi"),), model="no-such-model", error_status=404),
)


def check(scenario: Scenario, outcome: Outcome, streamed: bool) -> None:
    """The dialect-neutral expectations of one scenario."""
    if scenario.error_status is not None:
        assert outcome.error_status == scenario.error_status, outcome
        assert scenario.error_message in outcome.error_message
        assert outcome.error_in_stream == (streamed and scenario.error_mid_stream)
        return
    assert outcome.error_status is None, outcome.error_message
    expected_rounds = len(scenario.calls) or 1
    assert len(outcome.rounds) == expected_rounds, outcome
    for expected, got in zip(scenario.calls, outcome.rounds, strict=False):
        assert got.calls == list(expected)
        assert got.finish == ("tool_calls" if expected else "stop")
    final = outcome.rounds[-1]
    assert final.finish == "stop" and not final.calls
    if scenario.text_equals is not None:
        assert final.text == scenario.text_equals
    for fragment in scenario.text_contains:
        assert fragment in final.text
    if scenario.thinking_equals is not None:
        assert final.thinking == scenario.thinking_equals
    # Tool-call rounds end before the upstream turn does, so their counts may still be 0.
    assert all(r.input_tokens >= 0 and r.output_tokens >= 0 for r in outcome.rounds)
    assert final.input_tokens > 0 and final.output_tokens > 0
