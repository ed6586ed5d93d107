"""Options of the Responses API (issue #12), through bridge + emulator with the SDK:
compaction, custom (free-form) tools, and the options it refuses. The options every dialect
honours: test_request_options.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.conftest import Stack

MODEL = "gpt-5.4"


@pytest.fixture
def oai(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


# -- compaction -----------------------------------------------------------------------------


def test_compaction_summarises_and_the_item_restores_the_summary(oai: OpenAI, stack: Stack) -> None:
    history = [
        {"role": "user", "content": "We launch on Tuesday."},
        {"role": "assistant", "content": "Noted: Tuesday."},
    ]
    response = httpx.post(
        stack.bridge_url + "/v1/responses/compact",
        json={"model": MODEL, "input": history},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "response.compaction" and body["usage"]["input_tokens"] > 0
    (item,) = body["output"]
    assert item["type"] == "compaction" and item["id"].startswith("cmp_")
    follow_up = oai.responses.create(
        model=MODEL,
        input=[item, {"role": "user", "content": "what did we agree?"}],  # type: ignore[list-item]
        store=False,
    )
    # The emulated model quotes its prompt: the summary opens the compacted conversation.
    answer = follow_up.output_text
    assert answer.startswith("Emulated answer to: Summary of the conversation so far:\n")
    assert "Summarise the conversation so far" in answer  # what the model summarised
    assert answer.endswith("what did we agree?")


def test_compaction_needs_a_model(stack: Stack) -> None:
    response = httpx.post(
        stack.bridge_url + "/v1/responses/compact", json={"input": "hi"}, timeout=20
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"


# -- custom (free-form) tools ---------------------------------------------------------------

PATCH_TOOL: Any = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}


@pytest.mark.parametrize("stream", [False, True])
def test_custom_tool_calls_round_trip(oai: OpenAI, stream: bool) -> None:
    patch = "*** Begin Patch\n*** End Patch\n"
    prompt = "/tool apply_patch " + json.dumps({"input": patch})
    if stream:
        events = list(
            oai.responses.create(model=MODEL, input=prompt, tools=[PATCH_TOOL], stream=True)
        )
        kinds = [e.type for e in events]
        assert "response.custom_tool_call_input.delta" in kinds
        assert "response.custom_tool_call_input.done" in kinds
        response = events[-1].response  # type: ignore[union-attr]
    else:
        response = oai.responses.create(model=MODEL, input=prompt, tools=[PATCH_TOOL])
    (call,) = response.output
    assert call.type == "custom_tool_call" and call.name == "apply_patch"
    assert call.input == patch
    follow_up = oai.responses.create(
        model=MODEL,
        previous_response_id=response.id,
        input=[{"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done!"}],
        tools=[PATCH_TOOL],
    )
    assert follow_up.output_text == "Tool results:\n- apply_patch: Done!"


def test_responses_max_tool_calls_is_refused(oai: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="max_tool_calls"):
        oai.responses.create(model=MODEL, input="hi", max_tool_calls=2)
