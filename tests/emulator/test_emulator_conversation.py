"""Multi-turn conversations: checkpoints sent back, seeded history, missing blobs, context."""

from __future__ import annotations

import json
import math

import pytest
from emulator_client import H2Client
from run_driver import TurnDriver, seed_state, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.emulator.history import EMULATOR_SYSTEM_PROMPT
from cursor_bridge.protocol.messages import agent

LENIENT = pytest.mark.parametrize("options", [EmulatorOptions(strict=False)])


async def test_second_turn_fetches_the_checkpoint_blobs_and_recalls_history(
    emulator: EmulatorServer, client: H2Client
) -> None:
    store: dict[bytes, bytes] = {}
    first = await TurnDriver(client, store=store).run(user_request("/reply Paris"))
    assert first.checkpoint is not None
    first_blobs = set(store)

    second = await TurnDriver(client, store=store).run(
        user_request("/recall", state=first.checkpoint)
    )
    assert second.end is not None and second.end.error is None
    assert second.text == (
        f"history: system={EMULATOR_SYSTEM_PROMPT}; user=/reply Paris; assistant=Paris"
    )
    # Every blob the first checkpoint names was fetched: root + turn, then user + step.
    assert second.kinds[:4] == ["kv.get"] * 4
    assert set(second.gets) == first_blobs
    checkpoint = second.checkpoint
    assert checkpoint is not None
    # The root list is what the next prompt is built from: each turn is appended to it
    # (user entry, assistant entry), after the conversation's system prompt.
    first_roots = list(first.checkpoint.root_prompt_messages_json)
    assert len(first_roots) == 3
    assert list(checkpoint.root_prompt_messages_json[:3]) == first_roots
    assert len(checkpoint.root_prompt_messages_json) == 5
    assert list(checkpoint.turns[:1]) == list(first.checkpoint.turns)
    assert len(checkpoint.turns) == 2
    # The whole history came from blobs this emulator stored: it is all cache.
    ended = second.turn_ended
    assert ended is not None
    history_chars = len(EMULATOR_SYSTEM_PROMPT) + len("/reply Paris") + len("Paris")
    assert ended.cache_read == math.ceil(history_chars / 4)
    assert ended.input_tokens == math.ceil((history_chars + len("/recall")) / 4)


async def test_seeded_history_and_system_prompt_arrive(client: H2Client) -> None:
    state, store = seed_state(
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        ],
        [("What is 1+1?", "2")],
    )
    context = agent.RequestContext(cloud_rule="Answer in French.")
    transcript = await TurnDriver(client, store=store, context=context).run(
        user_request("/recall", state=state)
    )
    # Strict: the prompt comes from the root list only; the turn only in `turns` is unseen.
    assert transcript.text == "history: rule=Answer in French.; system=You are terse.; user=Hi"
    ended = transcript.turn_ended
    assert ended is not None and ended.cache_read == 0  # seeded by the client, not cached
    checkpoint = transcript.checkpoint
    assert checkpoint is not None
    # The client's root prompts are kept (this turn appended); no emulator system prompt.
    roots = list(state.root_prompt_messages_json)
    assert list(checkpoint.root_prompt_messages_json[: len(roots)]) == roots


@LENIENT
async def test_lenient_mode_also_shows_the_turns(client: H2Client) -> None:
    state, store = seed_state([{"role": "system", "content": "You are terse."}], [("1+1?", "2")])
    transcript = await TurnDriver(client, store=store).run(user_request("/recall", state=state))
    assert transcript.text == "history: system=You are terse.; user=1+1?; assistant=2"


async def test_seed_shaped_root_entries_are_what_the_model_sees(client: H2Client) -> None:
    """The bridge's seed shape (rules / user_query wrappers, tool-call and tool-result parts)."""
    state, store = seed_state(
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": [{"type": "text", "text": "<rules>\nR\n</rules>"}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "<user_query>\nQ\n</user_query>"}],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "A"},
                    {"type": "tool-call", "toolCallId": "c1", "toolName": "t", "args": {"x": 1}},
                ],
            },
            {
                "role": "tool",
                "content": [
                    {"type": "tool-result", "toolCallId": "c1", "toolName": "t", "result": "ok"}
                ],
            },
        ],
        [],
    )
    transcript = await TurnDriver(client, store=store).run(user_request("/recall", state=state))
    assert transcript.text == (
        'history: system=S; rules=R; user=Q; assistant=A; tool_call=t {"x":1}; tool=t -> ok'
    )


async def test_an_empty_blob_answer_blanks_that_history(
    emulator: EmulatorServer, client: H2Client
) -> None:
    """Strict: an empty get_blob_result reads as an empty message (current-client.md §8)."""
    state, store = seed_state(
        [{"role": "system", "content": "kept"}, {"role": "user", "content": "lost"}], []
    )
    withheld = state.root_prompt_messages_json[1]
    transcript = await TurnDriver(client, store=store, withhold={withheld}).run(
        user_request("/recall", state=state)
    )
    assert transcript.end is not None and transcript.end.error is None
    assert transcript.text == "history: system=kept"
    assert emulator.counters.blobs_missing == 1


@LENIENT
async def test_lenient_withheld_blob_ends_the_run_with_blob_not_found(
    emulator: EmulatorServer, client: H2Client
) -> None:
    state, store = seed_state([{"role": "system", "content": "x"}], [("q", "a")])
    withheld = state.turns[0]
    transcript = await TurnDriver(client, store=store, withhold={withheld}).run(
        user_request("/reply never", state=state)
    )
    assert transcript.end is not None and transcript.end.error is not None
    assert transcript.end.error.code == "internal"
    assert transcript.end.error.message == "Blob not found"
    assert "update.text_delta" not in transcript.kinds
    assert emulator.counters.blobs_missing == 1
    assert emulator.counters.runs_failed == 1


async def test_inline_bytes_in_turns_are_blob_not_found(client: H2Client) -> None:
    """E's issue #22: a serialized turn where its blob id belongs (current-client.md §2.1)."""
    inline = agent.ConversationTurnStructure().SerializeToString() + b"\x0a\x00"
    state = agent.ConversationStateStructure(turns=[inline])
    transcript = await TurnDriver(client).run(user_request("hi", state=state))
    assert transcript.end is not None and transcript.end.error is not None
    assert transcript.end.error.code == "internal"
    assert transcript.end.error.message.startswith("Blob not found: ")
    assert transcript.gets == []  # refused before any fetch


@LENIENT
async def test_lenient_unknown_32_byte_id_is_blob_not_found(client: H2Client) -> None:
    state = agent.ConversationStateStructure(root_prompt_messages_json=[b"\x01" * 32])
    transcript = await TurnDriver(client).run(user_request("hi", state=state))
    assert transcript.end is not None and transcript.end.error is not None
    assert transcript.end.error.message == "Blob not found"


async def test_content_as_id_is_echoed_and_restored_under_its_digest(client: H2Client) -> None:
    inline = json.dumps({"role": "system", "content": "Inline system"}).encode()
    state = agent.ConversationStateStructure(root_prompt_messages_json=[inline])
    transcript = await TurnDriver(client).run(user_request("/recall", state=state))
    assert transcript.text == "history: system=Inline system"
    assert transcript.gets == [inline]
    checkpoint = transcript.checkpoint
    assert checkpoint is not None
    root_id = checkpoint.root_prompt_messages_json[0]
    assert len(root_id) == 32 and transcript.stored[root_id] == inline
    assert all(len(key) == 32 for key in checkpoint.root_prompt_messages_json)


async def test_request_context_of_the_user_message_serves_when_the_client_rejects_the_ask(
    client: H2Client,
) -> None:
    inline = agent.RequestContext(cloud_rule="From the action")
    transcript = await TurnDriver(client, reject_context=True).run(
        user_request("/recall", request_context=inline)
    )
    assert transcript.text == "history: rule=From the action"


async def test_strict_asks_for_the_context_only_when_the_request_lacks_one(
    client: H2Client,
) -> None:
    answered = agent.RequestContext(cloud_rule="From the answer")
    inline = agent.RequestContext(cloud_rule="From the action")
    transcript = await TurnDriver(client, context=answered).run(
        user_request("/recall", request_context=inline)
    )
    assert transcript.text == "history: rule=From the action"
    assert "exec.request_context_args" not in transcript.kinds


@LENIENT
async def test_lenient_request_context_answer_wins_over_the_user_message_one(
    client: H2Client,
) -> None:
    answered = agent.RequestContext(cloud_rule="From the answer")
    inline = agent.RequestContext(cloud_rule="From the action")
    transcript = await TurnDriver(client, context=answered).run(
        user_request("/recall", request_context=inline)
    )
    assert transcript.text == "history: rule=From the answer"


async def test_cloud_rule_from_request_context_shows_in_recall(
    emulator: EmulatorServer, client: H2Client
) -> None:
    context = agent.RequestContext(cloud_rule="Always answer in haiku.")
    transcript = await TurnDriver(client, context=context).run(user_request("/recall"))
    assert transcript.text == "history: rule=Always answer in haiku."
    assert transcript.kinds[0] == "exec.request_context_args"
    assert emulator.counters.request_context_asked == 1


async def test_resume_continues_the_last_turn(client: H2Client) -> None:
    store: dict[bytes, bytes] = {}
    first = await TurnDriver(client, store=store).run(user_request("/reply first"))
    assert first.checkpoint is not None
    request = agent.AgentRunRequest(
        conversation_state=first.checkpoint,
        action=agent.ConversationAction(resume_action=agent.ResumeAction()),
        requested_model=agent.RequestedModel(model_id="gpt-5.4"),
    )
    transcript = await TurnDriver(client, store=store).run(request)
    assert transcript.text == "first"
    checkpoint = transcript.checkpoint
    assert checkpoint is not None and len(checkpoint.turns) == 1
    turn = agent.ConversationTurnStructure.FromString(store[checkpoint.turns[0]])
    assert len(turn.agent_conversation_turn.steps) == 2  # the old step plus the resumed one
