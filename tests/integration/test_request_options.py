"""Request options every dialect honours (issue #12), through bridge + emulator with the SDKs.

Output limits and stop sequences end the answer and cancel the rest of the turn upstream;
structured output and tool_choice are held to what was asked, correcting once; usage is
reported on every turn; options the backend cannot honour are refused by name.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic import Anthropic
from openai import OpenAI

from tests.conftest import Stack
from tests.support.polling import wait_for

MODEL = "gpt-5.4"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "rank": {"type": "integer", "minimum": 1}},
    "required": ["city", "rank"],
    "additionalProperties": False,
}
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"],
    },
}


@pytest.fixture
def oai(stack: Stack) -> OpenAI:
    return OpenAI(base_url=stack.bridge_url + "/v1", api_key="x", max_retries=0, timeout=20)


@pytest.fixture
def ant(stack: Stack) -> Anthropic:
    return Anthropic(base_url=stack.bridge_url, api_key="x", max_retries=0, timeout=20)


def chat_tool() -> dict[str, Any]:
    return {"type": "function", "function": WEATHER}


# -- output limits --------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_chat_max_tokens_cuts_the_answer_and_cancels_the_run(
    oai: OpenAI, stack: Stack, stream: bool
) -> None:
    cancelled = stack.counters.runs_cancelled
    messages: Any = [{"role": "user", "content": "/tokens 50"}]
    if stream:
        chunks = list(
            oai.chat.completions.create(
                model=MODEL,
                messages=messages,
                max_completion_tokens=3,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
        usage = chunks[-1].usage
        assert reasons[-1] == "length"
    else:
        response = oai.chat.completions.create(model=MODEL, messages=messages, max_tokens=3)
        text = response.choices[0].message.content or ""
        usage = response.usage
        assert response.choices[0].finish_reason == "length"
    assert text == "alpha bravo charlie "
    assert usage is not None and usage.completion_tokens == 3 and usage.prompt_tokens > 0
    wait_for(lambda: stack.counters.runs_cancelled > cancelled)


def test_a_cut_conversation_resumes(oai: OpenAI) -> None:
    first = oai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "/tokens 40"}], max_tokens=2
    )
    cut = first.choices[0].message.content
    assert first.choices[0].finish_reason == "length" and cut == "alpha bravo "
    follow_up = oai.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "/tokens 40"},
            {"role": "assistant", "content": cut},
            {"role": "user", "content": "/recall"},
        ],
    )
    assert follow_up.choices[0].finish_reason == "stop"
    assert "assistant=alpha bravo" in (follow_up.choices[0].message.content or "")


@pytest.mark.parametrize("stream", [False, True])
def test_responses_max_output_tokens_is_incomplete(oai: OpenAI, stream: bool) -> None:
    if stream:
        events = list(
            oai.responses.create(model=MODEL, input="/tokens 50", max_output_tokens=4, stream=True)
        )
        assert events[-1].type == "response.incomplete"
        response = events[-1].response
    else:
        response = oai.responses.create(model=MODEL, input="/tokens 50", max_output_tokens=4)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "alpha bravo charlie delta "
    assert response.usage is not None and response.usage.output_tokens == 4


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_max_tokens_stops_with_max_tokens(ant: Anthropic, stream: bool) -> None:
    args: Any = {
        "model": MODEL,
        "max_tokens": 2,
        "messages": [{"role": "user", "content": "/tokens 30"}],
    }
    if stream:
        with ant.messages.stream(**args) as events:
            message = events.get_final_message()
    else:
        message = ant.messages.create(**args)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == "alpha bravo "  # type: ignore[union-attr]
    assert message.usage.output_tokens == 2


def test_thinking_counts_towards_the_limit(ant: Anthropic) -> None:
    message = ant.messages.create(
        model="claude-4.6-sonnet",
        max_tokens=3,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "/think one two three four\n/reply never shown"}],
    )
    assert message.stop_reason == "max_tokens"
    assert [b.type for b in message.content] == ["thinking"]


# -- stop sequences -------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_chat_stop_withholds_the_sequence_across_chunks(
    oai: OpenAI, stack: Stack, stream: bool
) -> None:
    cancelled = stack.counters.runs_cancelled
    # "ie juli" spans the chunks "india " and "juliet ".
    messages: Any = [{"role": "user", "content": "/tokens 20"}]
    if stream:
        chunks = list(
            oai.chat.completions.create(
                model=MODEL, messages=messages, stop=["ia juli", "zulu"], stream=True
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        reason = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        response = oai.chat.completions.create(
            model=MODEL, messages=messages, stop=["ia juli", "zulu"]
        )
        text, reason = response.choices[0].message.content or "", response.choices[0].finish_reason
    assert text == "alpha bravo charlie delta echo foxtrot golf hotel ind"
    assert reason == "stop"
    wait_for(lambda: stack.counters.runs_cancelled > cancelled)


def test_chat_stop_limits_are_checked(oai: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="At most 4"):
        oai.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stop=list("abcde")
        )


# -- structured output ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_chat_json_schema_is_obeyed(oai: OpenAI, stream: bool) -> None:
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "c", "schema": SCHEMA}}
    messages: Any = [{"role": "user", "content": "name a city"}]
    if stream:
        chunks = list(
            oai.chat.completions.create(
                model=MODEL, messages=messages, response_format=response_format, stream=True
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        response = oai.chat.completions.create(
            model=MODEL, messages=messages, response_format=response_format
        )
        text = response.choices[0].message.content or ""
    assert json.loads(text) == {"city": "emulated", "rank": 1}


def test_an_invalid_answer_is_corrected_once(oai: OpenAI, stack: Stack) -> None:
    opened = stack.counters.runs_opened
    resumed = stack.backend.checkpoint_resumes["resumed"]
    response = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "/reply sure, here it is: Paris"}],
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": SCHEMA}},
    )
    assert json.loads(response.choices[0].message.content or "") == {
        "city": "emulated",
        "rank": 1,
    }
    assert stack.counters.runs_opened == opened + 2  # the answer, then the correction
    # The correction continues the conversation from the failed turn's checkpoint.
    assert stack.backend.checkpoint_resumes["resumed"] == resumed + 1
    assert response.usage is not None and response.usage.completion_tokens > 6


def test_a_model_that_never_complies_gets_a_clear_error(oai: OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        oai.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "/disobey always\n/reply no JSON today"}],
            response_format={"type": "json_object"},
        )
    assert info.value.status_code == 502
    assert "not valid JSON" in info.value.message and "2 attempts" in info.value.message


def test_responses_text_format_and_anthropic_output_config(oai: OpenAI, ant: Anthropic) -> None:
    response = oai.responses.create(
        model=MODEL,
        input="/reply nope",
        text={"format": {"type": "json_schema", "name": "c", "schema": SCHEMA}},
    )
    assert json.loads(response.output_text) == {"city": "emulated", "rank": 1}
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    message = ant.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=[{"role": "user", "content": "name a city"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
    )
    assert json.loads(message.content[0].text) == {"city": "emulated", "rank": 1}  # type: ignore[union-attr]


def test_json_object_mode_and_bad_schemas(oai: OpenAI, ant: Anthropic) -> None:
    response = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(response.choices[0].message.content or "") == {
        "answer": "Emulated answer to: hi"
    }
    with pytest.raises(openai.BadRequestError, match="Invalid JSON schema"):
        oai.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "nonsense"}},
            },
        )
    with pytest.raises(anthropic.BadRequestError, match="json_schema"):
        ant.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"output_config": {"format": {"type": "json_object"}}},
        )


# -- tool_choice ----------------------------------------------------------------------------


def test_required_tool_choice_is_obeyed_with_schema_arguments(oai: OpenAI) -> None:
    response = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[chat_tool()],
        tool_choice="required",
    )
    assert response.choices[0].finish_reason == "tool_calls"
    (call,) = response.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "emulated", "days": 1}  # type: ignore[union-attr]


def test_a_text_answer_to_a_required_call_is_asked_again(oai: OpenAI, stack: Stack) -> None:
    opened = stack.counters.runs_opened
    stream = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "/disobey\n/reply I would rather chat"}],
        tools=[chat_tool()],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert "rather chat" not in text  # the failed attempt is never passed on
    assert [t.function.name for t in calls if t.function and t.function.name] == ["get_weather"]
    assert stack.counters.runs_opened == opened + 2


def test_a_model_that_never_calls_the_required_tool_fails(ant: Anthropic) -> None:
    with pytest.raises(anthropic.APIStatusError) as info:
        ant.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=[{"role": "user", "content": "/disobey always\n/reply no tools"}],
            tools=[
                {
                    **{k: WEATHER[k] for k in ("name", "description")},
                    "input_schema": WEATHER["parameters"],
                }
            ],  # type: ignore[list-item]
            tool_choice={"type": "any"},
        )
    assert info.value.status_code == 502
    assert "must call one of the provided tools" in str(info.value.message)


def test_required_call_then_results_continue_the_conversation(oai: OpenAI) -> None:
    first = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[chat_tool()],
        tool_choice="required",
    )
    (call,) = first.choices[0].message.tool_calls or []
    second = oai.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "weather?"},
            first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
        tools=[chat_tool()],
        tool_choice="auto",
    )
    assert second.choices[0].finish_reason == "stop"
    assert "sunny" in (second.choices[0].message.content or "")


# -- usage ----------------------------------------------------------------------------------


def test_tool_call_turns_report_input_tokens(oai: OpenAI, ant: Anthropic) -> None:
    response = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": '/tool get_weather {"city": "Oslo"}'}],
        tools=[chat_tool()],
    )
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.usage is not None and response.usage.prompt_tokens > 0
    message = ant.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": '/tool get_weather {"city": "Oslo"}'}],
        tools=[{"name": "get_weather", "description": "w", "input_schema": WEATHER["parameters"]}],  # type: ignore[list-item]
    )
    assert message.stop_reason == "tool_use" and message.usage.input_tokens > 0


def test_anthropic_start_and_delta_agree_on_input(stack: Stack) -> None:
    payload = {
        "model": MODEL,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "/reply hello " + "word " * 200}],
    }
    with httpx.stream("POST", stack.bridge_url + "/v1/messages", json=payload, timeout=20) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    start = next(e for e in events if e["type"] == "message_start")["message"]["usage"]
    delta = next(e for e in events if e["type"] == "message_delta")["usage"]
    assert start["input_tokens"] == delta["input_tokens"] > 200
    assert delta["output_tokens"] > 0


def test_reasoning_tokens_are_reported(oai: OpenAI) -> None:
    response = oai.responses.create(model="claude-4.6-sonnet", input="/think a b c\n/reply ok")
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 3


# -- unsupported options --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"n": 2}, "n"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
    ],
)
def test_chat_refuses_unsupported_options_by_name(
    oai: OpenAI, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], extra_body=extra
        )
    assert param in info.value.message
    assert isinstance(info.value.body, dict) and info.value.body.get("param") == param


def test_responses_refuses_logprobs(oai: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="top_logprobs"):
        oai.responses.create(model=MODEL, input="hi", extra_body={"top_logprobs": 3})
    with pytest.raises(openai.BadRequestError, match="logprobs"):
        oai.responses.create(model=MODEL, input="hi", include=["message.output_text.logprobs"])
