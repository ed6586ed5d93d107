"""Dialect conformance, OpenAI Responses: every shared scenario through the openai SDK.

Streamed runs go through `client.responses.stream` (which rejects out-of-order or
inconsistent events) and also check the sequence numbers and that the deltas add up to the
final items. Tool rounds are answered both ways a Responses client can: with
`previous_response_id`, and statelessly by resending the whole input (as Codex does).
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response

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
def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


def _streamed(client: OpenAI, outcome: Outcome, **request: Any) -> Response | None:
    text: list[str] = []
    summary: list[str] = []
    sequence: list[int] = []
    incomplete: Response | None = None
    with client.responses.stream(**request) as stream:
        for event in stream:
            sequence.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                text.append(event.delta)
            elif event.type == "response.reasoning_summary_text.delta":
                summary.append(event.delta)
            elif event.type == "error":
                outcome.error_message = event.message
            elif event.type == "response.failed":
                assert event.response.error is not None
                assert outcome.error_message is not None, "`error` comes before response.failed"
                return None
            elif event.type == "response.incomplete":
                incomplete = event.response
        final = incomplete if incomplete is not None else stream.get_final_response()
    assert sequence == list(range(len(sequence)))
    assert "".join(text) == final.output_text
    summaries = [s.text for item in final.output if item.type == "reasoning" for s in item.summary]
    assert "".join(summary) == "".join(summaries)
    return final


def run_scenario(client: OpenAI, scenario: Scenario, *, stream: bool, stateless: bool) -> Outcome:
    outcome = Outcome()
    tools: Any = [
        {
            "type": "function",
            "name": t.name,
            "description": t.description,
            "parameters": t.parameters,
            "strict": False,
        }
        for t in scenario.tools
    ]
    conversation: list[Any] = [{"role": "user", "content": scenario.prompt}]
    pending: list[Any] = conversation
    previous: str | None = None
    for _ in range(MAX_ROUNDS):
        request: dict[str, Any] = {
            "model": scenario.model,
            "input": conversation if stateless else pending,
            "tools": tools,
            "reasoning": {"summary": "auto"},
            "store": not stateless,
        }
        if previous is not None and not stateless:
            request["previous_response_id"] = previous
        if not outcome.rounds:
            request.update(_options(scenario))
        try:
            response = (
                _streamed(client, outcome, **request)
                if stream
                else client.responses.create(**request)
            )
        except openai.APIStatusError as exc:
            outcome.error_status = exc.status_code
            outcome.error_message = str(exc.body)
            return outcome
        if response is None:  # failed inside the stream
            return outcome
        assert response.status in ("completed", "incomplete")
        if response.status == "incomplete":
            assert response.incomplete_details is not None
            assert response.incomplete_details.reason == "max_output_tokens"
            outcome.truncated = True
        for item in response.output:
            if item.type == "reasoning":
                outcome.thinking += "".join(s.text for s in item.summary)
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            outcome.text = response.output_text
            return outcome
        outcome.rounds.append([(c.name, json.loads(c.arguments)) for c in calls])
        assert len({c.call_id for c in calls}) == len(calls)
        results = [
            {
                "type": "function_call_output",
                "call_id": c.call_id,
                "output": result_for(c.name, json.loads(c.arguments)),
            }
            for c in calls
        ]
        conversation += [item.model_dump(exclude_none=True) for item in response.output]
        conversation += results
        pending, previous = results, response.id
    raise AssertionError(f"no final answer after {MAX_ROUNDS} rounds")


def _options(scenario: Scenario) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if scenario.max_tokens is not None:
        options["max_output_tokens"] = scenario.max_tokens
    if scenario.schema == {}:
        options["text"] = {"format": {"type": "json_object"}}
    elif scenario.schema is not None:
        fmt = {"type": "json_schema", "name": "answer", "schema": scenario.schema}
        options["text"] = {"format": fmt}
    if scenario.tool_choice == "required":
        options["tool_choice"] = "required"
    elif scenario.tool_choice is not None:
        options["tool_choice"] = {"type": "function", "name": scenario.tool_choice}
    return options


# The Responses API has no stop sequences.
RESPONSES_OPTIONS = [s for s in OPTION_SCENARIOS if not s.stop]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("scenario", RESPONSES_OPTIONS, ids=[s.name for s in RESPONSES_OPTIONS])
def test_responses_request_options(client: OpenAI, scenario: Scenario, stream: bool) -> None:
    outcome = run_scenario(client, scenario, stream=stream, stateless=False)
    check(scenario, outcome, streamed=stream)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_with_previous_response_id(
    client: OpenAI, scenario: Scenario, stream: bool
) -> None:
    check(scenario, run_scenario(client, scenario, stream=stream, stateless=False), streamed=stream)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s.rounds], ids=[s.name for s in SCENARIOS if s.rounds]
)
def test_tool_scenario_resending_the_whole_input(
    client: OpenAI, scenario: Scenario, stream: bool
) -> None:
    check(scenario, run_scenario(client, scenario, stream=stream, stateless=True), streamed=stream)
