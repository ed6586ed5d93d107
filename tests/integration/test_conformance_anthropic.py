"""Dialect conformance, Anthropic Messages: every shared scenario through the anthropic SDK.

Streamed runs go through `client.messages.stream` (its accumulator rejects deltas for blocks
that were not started); they also check, from the SDK's events, that the text deltas add up
to the final text blocks. Tool rounds are answered as Anthropic clients do: the assistant
message goes back as is (thinking blocks and their signatures included), followed by a user
turn of `tool_result` blocks. Thinking is requested in every scenario, since the Messages API
only returns thinking blocks when asked.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic import Anthropic
from anthropic.types import Message

from tests.conftest import Stack
from tests.support.conformance import (
    OPTION_SCENARIOS,
    SCENARIOS,
    Outcome,
    Scenario,
    check,
    result_for,
)

MAX_ROUNDS = 5


@pytest.fixture
def client(stack: Stack) -> Anthropic:
    return Anthropic(base_url=stack.bridge_url, api_key="x", max_retries=0, timeout=20)


def _streamed(client: Anthropic, **request: Any) -> Message:
    text: list[str] = []
    with client.messages.stream(**request) as stream:
        for event in stream:
            if event.type == "text":
                text.append(event.text)
        final = stream.get_final_message()
    assert "".join(text) == "".join(b.text for b in final.content if b.type == "text")
    return final


def run_scenario(client: Anthropic, scenario: Scenario, *, stream: bool) -> Outcome:
    outcome = Outcome()
    messages: list[Any] = [{"role": "user", "content": scenario.prompt}]
    request: dict[str, Any] = {
        "model": scenario.model,
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    if scenario.tools:
        request["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in scenario.tools
        ]
    request.update(_options(scenario))
    for _ in range(MAX_ROUNDS):
        try:
            if stream:
                message = _streamed(client, messages=messages, **request)
            else:
                message = client.messages.create(messages=messages, **request)
            request.pop("tool_choice", None)  # it applies to the opening request
        except anthropic.APIStatusError as exc:
            body = exc.body
            assert isinstance(body, dict) and body["type"] == "error", body
            # 200: an `event: error` inside a started stream, not an HTTP status.
            outcome.error_status = None if exc.status_code == 200 else exc.status_code
            outcome.error_message = body["error"]["message"]
            return outcome
        outcome.thinking += "".join(b.thinking for b in message.content if b.type == "thinking")
        calls = [b for b in message.content if b.type == "tool_use"]
        if not calls:
            stop = "stop_sequence" if scenario.stop else "end_turn"
            assert message.stop_reason in (stop, "max_tokens")
            if message.stop_reason == "stop_sequence":
                assert message.stop_sequence in scenario.stop
            outcome.truncated = message.stop_reason == "max_tokens"
            outcome.text = "".join(b.text for b in message.content if b.type == "text")
            return outcome
        assert message.stop_reason == "tool_use"
        assert len({c.id for c in calls}) == len(calls)
        outcome.rounds.append([(c.name, dict(c.input)) for c in calls])  # type: ignore[call-overload]
        messages.append(message.to_param())
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": c.id,
                        "content": result_for(c.name, dict(c.input)),  # type: ignore[call-overload]
                    }
                    for c in calls
                ],
            }
        )
    raise AssertionError(f"no final answer after {MAX_ROUNDS} rounds")


def _options(scenario: Scenario) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if scenario.max_tokens is not None:
        # thinking needs max_tokens above its budget: a limit test runs without it
        options["max_tokens"] = scenario.max_tokens
        options["thinking"] = {"type": "disabled"}
    if scenario.stop:
        options["stop_sequences"] = list(scenario.stop)
    if scenario.schema is not None:
        schema = scenario.schema or {"type": "object"}
        options["extra_body"] = {
            "output_config": {"format": {"type": "json_schema", "schema": schema}}
        }
    if scenario.tool_choice == "required":
        options["tool_choice"] = {"type": "any"}
    elif scenario.tool_choice is not None:
        options["tool_choice"] = {"type": "tool", "name": scenario.tool_choice}
    return options


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("scenario", OPTION_SCENARIOS, ids=[s.name for s in OPTION_SCENARIOS])
def test_anthropic_request_options(client: Anthropic, scenario: Scenario, stream: bool) -> None:
    check(scenario, run_scenario(client, scenario, stream=stream), streamed=stream)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_anthropic_conformance(client: Anthropic, scenario: Scenario, stream: bool) -> None:
    check(scenario, run_scenario(client, scenario, stream=stream), streamed=stream)


def test_tool_rounds_continue_the_parked_run(client: Anthropic, stack: Stack) -> None:
    """Sending the assistant message back unchanged keeps the history fingerprint stable."""
    multi_round = next(s for s in SCENARIOS if s.name == "multi_round")
    before = stack.backend.tool_rounds["continued"]
    run_scenario(client, multi_round, stream=True)
    assert stack.backend.tool_rounds["continued"] == before + len(multi_round.rounds)
