"""Dialect conformance, OpenAI Chat Completions: every shared scenario through the openai SDK.

Streamed runs rebuild the message from the chunks the way OpenAI's clients do (content and
`reasoning_content` deltas appended, tool calls assembled per `index`); tool rounds go back as
an assistant message with `tool_calls` followed by one `tool` message per call.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai import OpenAI

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

Answer = tuple[str, str, list[dict[str, str]], str]  # text, thinking, calls, finish_reason


@pytest.fixture
def client(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


def _whole(client: OpenAI, **request: Any) -> Answer:
    completion = client.chat.completions.create(**request)
    choice = completion.choices[0]
    message = choice.message
    calls = [
        {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
        for c in message.tool_calls or ()
        if c.type == "function"
    ]
    thinking = (message.model_extra or {}).get("reasoning_content") or ""
    return message.content or "", thinking, calls, choice.finish_reason


def _streamed(client: OpenAI, **request: Any) -> Answer:
    text, thinking, finish = "", "", ""
    calls: dict[int, dict[str, str]] = {}
    for chunk in client.chat.completions.create(stream=True, **request):
        for choice in chunk.choices:
            delta = choice.delta
            text += delta.content or ""
            thinking += (delta.model_extra or {}).get("reasoning_content") or ""
            for call in delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                if call.function is not None:
                    entry["name"] += call.function.name or ""
                    entry["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    return text, thinking, [calls[i] for i in sorted(calls)], finish


def run_scenario(client: OpenAI, scenario: Scenario, *, stream: bool) -> Outcome:
    outcome = Outcome()
    messages: list[Any] = [{"role": "user", "content": scenario.prompt}]
    request: dict[str, Any] = {"model": scenario.model}
    if scenario.tools:
        request["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in scenario.tools
        ]
    request.update(_options(scenario))
    for _ in range(MAX_ROUNDS):
        try:
            one = _streamed if stream else _whole
            text, thinking, calls, finish = one(client, messages=messages, **request)
            request.pop("tool_choice", None)  # it applies to the opening request
        except openai.APIStatusError as exc:
            outcome.error_status = exc.status_code
            outcome.error_message = exc.message
            return outcome
        except openai.APIError as exc:  # an error chunk inside a started stream
            outcome.error_message = exc.message
            return outcome
        outcome.thinking += thinking
        if not calls:
            assert finish in ("stop", "length")
            outcome.text, outcome.truncated = text, finish == "length"
            return outcome
        assert finish == "tool_calls"
        parsed = [(c["name"], json.loads(c["arguments"])) for c in calls]
        outcome.rounds.append(parsed)
        messages.append(
            {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": c["id"], "content": result_for(name, args)}
            for c, (name, args) in zip(calls, parsed, strict=True)
        ]
    raise AssertionError(f"no final answer after {MAX_ROUNDS} rounds")


def _options(scenario: Scenario) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if scenario.max_tokens is not None:
        options["max_completion_tokens"] = scenario.max_tokens
    if scenario.stop:
        options["stop"] = list(scenario.stop)
    if scenario.schema == {}:
        options["response_format"] = {"type": "json_object"}
    elif scenario.schema is not None:
        options["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": scenario.schema},
        }
    if scenario.tool_choice == "required":
        options["tool_choice"] = "required"
    elif scenario.tool_choice is not None:
        options["tool_choice"] = {"type": "function", "function": {"name": scenario.tool_choice}}
    return options


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("scenario", OPTION_SCENARIOS, ids=[s.name for s in OPTION_SCENARIOS])
def test_openai_chat_request_options(client: OpenAI, scenario: Scenario, stream: bool) -> None:
    check(scenario, run_scenario(client, scenario, stream=stream), streamed=stream)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_openai_chat_conformance(client: OpenAI, scenario: Scenario, stream: bool) -> None:
    check(scenario, run_scenario(client, scenario, stream=stream), streamed=stream)
