"""A text turn end to end: frame order, KV blobs, checkpoint, usage."""

from __future__ import annotations

import json
import math

import pytest
from emulator_client import H2Client, run_headers
from run_driver import TurnDriver, blob_id, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.emulator.history import EMULATOR_SYSTEM_PROMPT
from cursor_bridge.protocol.framing import EnvelopeDecoder, encode_envelope
from cursor_bridge.protocol.messages import agent


async def test_text_turn_frames_come_in_the_documented_order(
    emulator: EmulatorServer, client: H2Client
) -> None:
    driver = TurnDriver(client)
    transcript = await driver.run(user_request("/reply Hello there, world"))

    assert transcript.status == 200
    assert transcript.end is not None and transcript.end.error is None
    assert transcript.text == "Hello there, world"
    assert transcript.without_heartbeats() == [
        "exec.request_context_args",
        "update.step_started",
        "update.text_delta",
        "update.token_delta",
        "update.text_delta",
        "update.token_delta",
        "update.text_delta",
        "update.token_delta",
        "update.step_completed",
        "kv.set",  # root system prompt (fresh conversation)
        "kv.set",  # root entry: the user message (the next prompt is built from the root)
        "kv.set",  # root entry: the assistant answer
        "kv.set",  # UserMessage
        "kv.set",  # ConversationStep (assistant text)
        "kv.set",  # ConversationTurnStructure
        "checkpoint",
        "update.turn_ended",
    ]
    counters = emulator.counters
    assert counters.runs_opened == counters.runs_completed == 1
    assert counters.blobs_set == 6
    assert counters.request_context_asked == 1


async def test_checkpoint_references_exactly_the_blobs_it_stored(client: H2Client) -> None:
    transcript = await TurnDriver(client).run(user_request("/reply ok"))
    checkpoint = transcript.checkpoint
    assert checkpoint is not None
    stored = transcript.stored
    for key, data in stored.items():
        assert key == blob_id(data)

    root_id, user_root, answer_root = checkpoint.root_prompt_messages_json
    assert json.loads(stored[root_id]) == {"role": "system", "content": EMULATOR_SYSTEM_PROMPT}
    assert json.loads(stored[user_root]) == {
        "role": "user",
        "content": [{"type": "text", "text": "<user_query>\n/reply ok\n</user_query>"}],
    }
    assert json.loads(stored[answer_root]) == {
        "role": "assistant",
        "content": [{"type": "text", "text": "ok"}],
    }
    (turn_id,) = checkpoint.turns
    turn = agent.ConversationTurnStructure.FromString(stored[turn_id])
    user = agent.UserMessage.FromString(stored[turn.agent_conversation_turn.user_message])
    assert user.text == "/reply ok"
    (step_id,) = turn.agent_conversation_turn.steps
    step = agent.ConversationStep.FromString(stored[step_id])
    assert step.assistant_message.text == "ok"
    referenced = {
        root_id,
        user_root,
        answer_root,
        turn_id,
        turn.agent_conversation_turn.user_message,
        step_id,
    }
    assert referenced == set(stored)


async def test_turn_ended_reports_deterministic_usage(client: H2Client) -> None:
    context = agent.RequestContext(cloud_rule="Be brief.")
    text = "/reply one two three four"
    transcript = await TurnDriver(client, context=context).run(user_request(text))
    ended = transcript.turn_ended
    assert ended is not None
    assert ended.input_tokens == math.ceil((len("Be brief.") + len(text)) / 4)
    assert ended.output_tokens == 4  # one token per word chunk
    assert ended.cache_read == 0
    assert ended.reasoning_tokens == 0
    token_sum = sum(
        m.interaction_update.token_delta.tokens
        for m in transcript.messages
        if m.interaction_update.WhichOneof("message") == "token_delta"
    )
    assert token_sum == ended.output_tokens
    checkpoint = transcript.checkpoint
    assert checkpoint is not None
    assert checkpoint.token_details.max_tokens == 200_000
    assert checkpoint.token_details.used_tokens == ended.input_tokens + ended.output_tokens


async def test_max_mode_gets_the_long_context_window(client: H2Client) -> None:
    request = user_request("hi", model="claude-4.6-opus")
    request.requested_model.parameters.add(id="context", value="1m")
    transcript = await TurnDriver(client).run(request)
    assert transcript.checkpoint is not None
    assert transcript.checkpoint.token_details.max_tokens == 1_000_000


async def test_default_answer_quotes_the_prompt(client: H2Client) -> None:
    transcript = await TurnDriver(client).run(user_request("What is 2+2?", model="default"))
    assert transcript.text == "Emulated answer to: What is 2+2?"


async def test_thinking_streams_before_the_answer(client: H2Client) -> None:
    text = "/think Let me consider this\n/reply Done"
    transcript = await TurnDriver(client).run(user_request(text))
    kinds = transcript.without_heartbeats()
    assert transcript.thinking == "Let me consider this"
    assert transcript.text == "Done"
    first_text = kinds.index("update.text_delta")
    assert kinds.index("update.thinking_delta") < kinds.index("update.thinking_completed")
    assert kinds.index("update.thinking_completed") < first_text
    ended = transcript.turn_ended
    assert ended is not None
    assert ended.reasoning_tokens == 4
    assert ended.output_tokens == 5  # output includes reasoning
    checkpoint = transcript.checkpoint
    assert checkpoint is not None
    turn = agent.ConversationTurnStructure.FromString(transcript.stored[checkpoint.turns[0]])
    steps = [
        agent.ConversationStep.FromString(transcript.stored[key])
        for key in turn.agent_conversation_turn.steps
    ]
    assert [s.WhichOneof("message") for s in steps] == ["thinking_message", "assistant_message"]
    assert steps[0].thinking_message.text == "Let me consider this"


async def test_tokens_directive_streams_n_words(client: H2Client) -> None:
    transcript = await TurnDriver(client).run(user_request("/tokens 50"))
    assert transcript.kinds.count("update.text_delta") == 50
    assert len(transcript.text.split()) == 50
    assert transcript.turn_ended is not None and transcript.turn_ended.output_tokens == 50


class HoldsRequestContext(TurnDriver):
    """Answers request_context only after two server heartbeats; answers each heartbeat."""

    pending: agent.AgentServerMessage | None = None

    async def _answer(self, message: agent.AgentServerMessage) -> None:
        if message.exec_server_message.WhichOneof("message") == "request_context_args":
            self.pending = message
            return
        if message.interaction_update.WhichOneof("message") == "heartbeat":
            await self.send(agent.AgentClientMessage(client_heartbeat=agent.ClientHeartbeat()))
            if self.pending is not None and self.transcript.kinds.count("update.heartbeat") == 2:
                pending, self.pending = self.pending, None
                await super()._answer(pending)
            return
        await super()._answer(message)


@pytest.mark.parametrize("options", [EmulatorOptions(heartbeat_interval=0.01)])
async def test_server_heartbeats_while_waiting_and_client_heartbeats_are_counted(
    emulator: EmulatorServer, client: H2Client
) -> None:
    transcript = await HoldsRequestContext(client).run(user_request("/reply hi"))
    assert transcript.text == "hi"
    assert transcript.kinds.count("update.heartbeat") >= 2
    assert emulator.counters.client_heartbeats >= 2
    assert emulator.counters.runs_completed == 1


@pytest.mark.parametrize("options", [EmulatorOptions(gzip_min_size=0)])
async def test_gzip_frames_when_the_client_accepts_them(client: H2Client) -> None:
    headers = run_headers(**{"connect-accept-encoding": "gzip"})
    driver = TurnDriver(client, headers=headers)
    transcript = await driver.run(user_request("/reply squeezed"))
    assert transcript.text == "squeezed"
    assert driver.stream is not None
    _, response_headers = await driver.stream.response
    assert response_headers["connect-content-encoding"] == "gzip"


async def test_compressed_request_frames_are_accepted(client: H2Client) -> None:
    stream = await client.open("/agent.v1.AgentService/Run", run_headers(), end=False)
    message = agent.AgentClientMessage(run_request=user_request("/reply unzipped"))
    await stream.send(encode_envelope(message.SerializeToString(), compress=True))
    first = EnvelopeDecoder().feed(await stream.chunks.get())  # type: ignore[arg-type]
    kinds = [agent.AgentServerMessage.FromString(e.payload).WhichOneof("message") for e in first]
    assert kinds[0] == "exec_server_message"  # request_context asked: the request was read
    stream.reset()


@pytest.mark.parametrize("options", [EmulatorOptions(token_latency=0.02)])
async def test_token_latency_paces_every_streamed_word(client: H2Client) -> None:
    transcript = await TurnDriver(client).run(user_request("/tokens 5"))

    assert transcript.text == "alpha bravo charlie delta echo"
    steps = [
        m.interaction_update.step_completed
        for m in transcript.messages
        if m.WhichOneof("message") == "interaction_update"
        and m.interaction_update.WhichOneof("message") == "step_completed"
    ]
    # A pause follows each of the 5 words, so the answer step lasts at least 5 x 20 ms.
    assert steps and steps[-1].step_duration_ms >= 100
