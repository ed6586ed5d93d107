"""Dialect conformance: scripted emulator conversations every dialect must render.

Each `Scenario` is a conversation driven by emulator directives, with what any client must
end up with, whatever its dialect: the thinking, the tool calls per round, the final text,
or the error. A dialect's conformance test runs every scenario through its own client (an
adapter that returns an `Outcome`), checks its own documented shapes on the way, and calls
`check()`. The scenarios know nothing about any dialect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]


WEATHER = Tool(
    "get_weather",
    "Weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = Tool(
    "get_time",
    "Current time in a zone.",
    {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
)


def result_for(name: str, arguments: dict[str, Any]) -> str:
    """What the client's tool answers (deterministic, so the final text can be checked)."""
    return f"{name} says ok for {json.dumps(arguments, sort_keys=True)}"


Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Scenario:
    name: str
    prompt: str
    tools: tuple[Tool, ...] = ()
    model: str = "gpt-5.4"
    # Expected: thinking text, the calls of each tool round, the final answer...
    thinking: str = ""
    rounds: tuple[tuple[Call, ...], ...] = ()
    text: str | None = None
    text_contains: tuple[str, ...] = ()
    # ... or an error: a fragment of its message, the HTTP status of a whole (non-streamed)
    # response, and whether a streamed response reports it inside the started stream (the
    # emulator's faults come after the first text) rather than as an HTTP status.
    error_contains: str | None = None
    error_status: int | None = None
    error_in_stream: bool = False
    # Request options (issue #12), applied by each dialect in its own terms: an output limit,
    # stop sequences, a JSON schema (or {} for any JSON object) the answer must match, and a
    # tool_choice for the opening request ("required" or a tool's name).
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None
    tool_choice: str | None = None
    # Expected: the answer was cut by the output limit (length / incomplete / max_tokens).
    truncated: bool = False

    @property
    def fails(self) -> bool:
        return self.error_contains is not None


@dataclass
class Outcome:
    thinking: str = ""
    rounds: list[list[Call]] = field(default_factory=list)
    text: str = ""
    error_status: int | None = None
    error_message: str | None = None
    truncated: bool = False


def _tool_line(name: str, arguments: dict[str, Any]) -> str:
    return f"/tool {name} {json.dumps(arguments)}"


_PARIS = ("get_weather", {"city": "Paris"})
_ROME = ("get_weather", {"city": "Rome"})
_UTC = ("get_time", {"zone": "UTC"})

SCENARIOS = (
    Scenario("text", "/reply Hello, conformance.", text="Hello, conformance."),
    Scenario(
        "thinking",
        "/think Weighing the options\n/reply Decided.",
        thinking="Weighing the options",
        text="Decided.",
    ),
    Scenario(
        "single_call",
        _tool_line(*_PARIS),
        tools=(WEATHER,),
        rounds=((_PARIS,),),
        text_contains=(result_for(*_PARIS),),
    ),
    Scenario(
        "parallel_calls",
        _tool_line(*_PARIS) + "\n" + _tool_line(*_UTC),
        tools=(WEATHER, CLOCK),
        rounds=((_PARIS, _UTC),),
        text_contains=(result_for(*_PARIS), result_for(*_UTC)),
    ),
    Scenario(
        "multi_round",
        "/think First Paris, then Rome\n"
        + _tool_line(*_PARIS)
        + "\n/then\n"
        + _tool_line(*_ROME)
        + "\n/reply Both cities checked.",
        tools=(WEATHER,),
        thinking="First Paris, then Rome",
        rounds=((_PARIS,), (_ROME,)),
        text="Both cities checked.",
    ),
    Scenario(
        "rate_limited",
        "/fault error resource_exhausted slow down",
        error_contains="slow down",
        error_status=429,
        error_in_stream=True,
    ),
    Scenario(
        "backend_gone_mid_answer",
        "/reply one two three four\n/fault error unavailable went away",
        error_contains="went away",
        error_status=503,
        error_in_stream=True,
    ),
    Scenario(
        "unknown_model",
        "hello",
        model="gpt-5.44-no-such-model",
        error_contains="gpt-5.44-no-such-model",
        error_status=404,
    ),
)


CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "rank": {"type": "integer", "minimum": 1}},
    "required": ["city", "rank"],
    "additionalProperties": False,
}
# What the emulated model answers for CITY when it follows the format (emulator/obey.py).
CITY_ANSWER = '{"city": "emulated", "rank": 1}'

# Every request option, as scenarios (the Responses API has no stop sequences: dialects
# without them leave out the scenarios that set `stop`).
OPTION_SCENARIOS = (
    Scenario(
        "output_limit", "/tokens 30", max_tokens=3, text="alpha bravo charlie ", truncated=True
    ),
    Scenario("limit_not_reached", "/tokens 3", max_tokens=50, text="alpha bravo charlie"),
    Scenario(
        "stop_sequence_across_chunks",
        "/tokens 20",
        stop=("ia juli", "zulu"),
        text="alpha bravo charlie delta echo foxtrot golf hotel ind",
    ),
    Scenario("json_schema", "name a city", schema=CITY, text=CITY_ANSWER),
    Scenario("json_schema_corrected", "/reply Paris, of course.", schema=CITY, text=CITY_ANSWER),
    Scenario(
        "json_schema_never_met",
        "/disobey always\n/reply Paris, of course.",
        schema=CITY,
        error_contains="did not satisfy the request after 2 attempts",
        error_status=502,
    ),
    Scenario(
        "tool_choice_required",
        "what is the weather?",
        tools=(WEATHER, CLOCK),
        tool_choice="required",
        rounds=((("get_weather", {"city": "emulated"}),),),
        text_contains=(result_for("get_weather", {"city": "emulated"}),),
    ),
    Scenario(
        "tool_choice_named_after_a_refusal",
        "/disobey\n/reply I would rather chat.",
        tools=(WEATHER, CLOCK),
        tool_choice="get_time",
        rounds=((("get_time", {"zone": "emulated"}),),),
        # With the results, the model goes back to what the user's message scripted.
        text="I would rather chat.",
    ),
    Scenario(
        "tool_choice_never_met",
        "/disobey always\n/reply No tools today.",
        tools=(WEATHER,),
        tool_choice="required",
        error_contains="must call one of the provided tools",
        error_status=502,
    ),
)


def check(scenario: Scenario, outcome: Outcome, *, streamed: bool) -> None:
    """The dialect-independent expectations of a scenario."""
    if scenario.fails:
        assert outcome.error_message is not None, f"{scenario.name}: no error reported"
        assert scenario.error_contains is not None
        assert scenario.error_contains in outcome.error_message
        in_stream = streamed and scenario.error_in_stream
        assert outcome.error_status == (None if in_stream else scenario.error_status)
        return
    assert outcome.error_message is None, outcome.error_message
    assert outcome.truncated == scenario.truncated
    assert outcome.thinking == scenario.thinking
    assert [list(r) for r in scenario.rounds] == outcome.rounds
    if scenario.text is not None:
        assert outcome.text == scenario.text
    for fragment in scenario.text_contains:
        assert fragment in outcome.text
