"""The shared conformance scenarios in the Anthropic Messages dialect (official anthropic SDK)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic import Anthropic
from anthropic.types import Message

from tests.conformance.conformance_scenarios import (
    SCENARIOS,
    TOOLS,
    Call,
    Outcome,
    Round,
    Scenario,
    check,
)
from tests.conftest import Stack

FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}
MAX_ROUNDS = 5
# Anthropic's documented status for each error type (for errors inside a stream).
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def to_round(message: Message) -> Round:
    result = Round(
        finish=FINISH[message.stop_reason or ""],  # type: ignore[arg-type]
        input_tokens=message.usage.input_tokens,
        output_tokens=message.usage.output_tokens,
    )
    for block in message.content:
        if block.type == "text":
            result.text += block.text
        elif block.type == "thinking":
            result.thinking += block.thinking
        elif block.type == "tool_use":
            assert isinstance(block.input, dict)
            result.calls.append(Call(block.name, block.input))
    return result


def run(client: Anthropic, scenario: Scenario, stream: bool) -> Outcome:
    system = "\n".join(text for role, text in scenario.messages if role == "system")
    messages: list[Any] = [
        {"role": role, "content": text} for role, text in scenario.messages if role != "system"
    ]
    args: dict[str, Any] = {"model": scenario.model, "max_tokens": 1024}
    if system:
        args["system"] = system
    if scenario.tools:
        args["tools"] = [
            {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
            for t in TOOLS
        ]
    if scenario.thinking:
        args["thinking"] = {"type": "enabled", "budget_tokens": 2048}
    outcome = Outcome()
    for _ in range(MAX_ROUNDS):
        try:
            if stream:
                with client.messages.stream(messages=messages, **args) as events:
                    message: Message = events.get_final_message()
            else:
                message = client.messages.create(messages=messages, **args)
        except anthropic.APIStatusError as exc:
            body = exc.body
            assert isinstance(body, dict) and body["type"] == "error", body
            outcome.error_message = body["error"]["message"]
            outcome.error_status = exc.status_code
            if exc.status_code == 200:  # an `error` event inside a started stream
                outcome.error_in_stream = True
                outcome.error_status = ERROR_STATUS[body["error"]["type"]]
            return outcome
        outcome.rounds.append(to_round(message))
        if message.stop_reason != "tool_use":
            return outcome
        messages.append(message.to_param())
        results = [
            {"type": "tool_result", "tool_use_id": b.id, "content": scenario.results[b.name]}
            for b in message.content
            if b.type == "tool_use"
        ]
        messages.append({"role": "user", "content": results})
    return outcome


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("scenario", [s.param() for s in SCENARIOS])
def test_anthropic_conformance(stack: Stack, scenario: Scenario, stream: bool) -> None:
    client = Anthropic(base_url=stack.bridge_url, api_key="x", max_retries=0, timeout=20)
    check(scenario, run(client, scenario, stream), stream)
