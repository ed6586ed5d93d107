"""The shared conformance scenarios in the OpenAI Chat Completions dialect (official openai SDK)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai import OpenAI

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

MAX_ROUNDS = 5
# OpenAI's documented status for each error type (for errors inside a stream).
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "rate_limit_error": 429,
    "api_error": 500,
}


def whole_round(client: OpenAI, args: dict[str, Any]) -> tuple[Round, list[dict[str, Any]]]:
    completion = client.chat.completions.create(**args)
    choice = completion.choices[0]
    message = choice.message
    assert completion.usage is not None
    result = Round(
        text=message.content or "",
        thinking=(message.model_extra or {}).get("reasoning_content") or "",
        finish=choice.finish_reason,  # type: ignore[arg-type]
        input_tokens=completion.usage.prompt_tokens,
        output_tokens=completion.usage.completion_tokens,
    )
    calls = []
    for call in message.tool_calls or ():
        assert call.type == "function"
        result.calls.append(Call(call.function.name, json.loads(call.function.arguments)))
        calls.append(
            {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
        )
    return result, calls


def streamed_round(client: OpenAI, args: dict[str, Any]) -> tuple[Round, list[dict[str, Any]]]:
    result = Round()
    calls: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **args
    ):
        if chunk.usage is not None:
            result.input_tokens = chunk.usage.prompt_tokens
            result.output_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            delta = choice.delta
            result.text += delta.content or ""
            result.thinking += (delta.model_extra or {}).get("reasoning_content") or ""
            for call in delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                if call.function is not None:
                    entry["name"] += call.function.name or ""
                    entry["arguments"] += call.function.arguments or ""
            if choice.finish_reason is not None:
                result.finish = choice.finish_reason  # type: ignore[assignment]
    ordered = [calls[i] for i in sorted(calls)]
    result.calls = [Call(c["name"], json.loads(c["arguments"])) for c in ordered]
    return result, ordered


def run(client: OpenAI, scenario: Scenario, stream: bool) -> Outcome:
    messages: list[Any] = [{"role": role, "content": text} for role, text in scenario.messages]
    args: dict[str, Any] = {"model": scenario.model}
    if scenario.tools:
        args["tools"] = [{"type": "function", "function": dict(t)} for t in TOOLS]
    outcome = Outcome()
    for _ in range(MAX_ROUNDS):
        try:
            one = streamed_round if stream else whole_round
            result, calls = one(client, {"messages": messages, **args})
        except openai.APIStatusError as exc:
            outcome.error_status, outcome.error_message = exc.status_code, exc.message
            return outcome
        except openai.APIError as exc:  # an error chunk inside a started stream
            assert isinstance(exc.body, dict), exc.body
            outcome.error_in_stream = True
            outcome.error_status = ERROR_STATUS[exc.body["type"]]
            outcome.error_message = exc.message
            return outcome
        outcome.rounds.append(result)
        if result.finish != "tool_calls":
            return outcome
        messages.append(
            {
                "role": "assistant",
                "content": result.text or None,
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
            {"role": "tool", "tool_call_id": c["id"], "content": scenario.results[c["name"]]}
            for c in calls
        ]
    return outcome


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("scenario", [s.param() for s in SCENARIOS])
def test_openai_chat_conformance(stack: Stack, scenario: Scenario, stream: bool) -> None:
    client = OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)
    check(scenario, run(client, scenario, stream), stream)
