"""The `summarize_action` of a Run: the emulator's deterministic conversation summary."""

from __future__ import annotations

from ..protocol.blobs import blob_id
from ..protocol.messages import agent
from .history import load_conversation
from .model_text import summary_text, tokens_of
from .run import RunError, RunSession


async def summarize(session: RunSession, request: agent.AgentRunRequest, window: int) -> None:
    """summary_started, summary, summary_completed, a checkpoint whose `summary` names the
    summary blob and whose occupancy is the summary's (of `window` tokens), turn_ended.

    Choice (inferred: the facts name the messages, not their order or the summary's form):
    the summary is deterministic, one line per history entry (role: first words), and the
    Run ends like a turn.
    """
    state = request.conversation_state
    conversation = await load_conversation(state, session.get_blobs, session.env.known_blobs)
    entries = conversation.entries
    if not entries:
        raise RunError("invalid_argument", "nothing to summarize")
    summary = summary_text(entries)
    for update in (
        agent.InteractionUpdate(summary_started=agent.SummaryStartedUpdate()),
        agent.InteractionUpdate(summary=agent.SummaryUpdate(summary=summary)),
        agent.InteractionUpdate(summary_completed=agent.SummaryCompletedUpdate()),
    ):
        await session.send_update(update)
    data = summary.encode()
    await session.store_blob(blob_id(data), data)
    checkpoint = agent.ConversationStateStructure()
    checkpoint.CopyFrom(state)
    checkpoint.summary = blob_id(data)
    checkpoint.self_summary_count += 1
    checkpoint.token_details.used_tokens = tokens_of(len(summary))
    checkpoint.token_details.max_tokens = window
    await session.send(agent.AgentServerMessage(conversation_checkpoint_update=checkpoint))
    session.turn_ended = True
    read = tokens_of(sum(len(e.text) for e in entries))
    ended = agent.TurnEndedUpdate(input_tokens=read, output_tokens=tokens_of(len(summary)))
    await session.send_update(agent.InteractionUpdate(turn_ended=ended))
