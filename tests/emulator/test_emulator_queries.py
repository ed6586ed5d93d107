"""`/query`, `/trace`, `/compress` and built-in display records in the emulator."""

from __future__ import annotations

import asyncio

import pytest
from emulator_client import H2Client
from run_driver import TurnDriver, user_request

from cursor_bridge.emulator import EmulatorOptions, EmulatorServer
from cursor_bridge.emulator.queries import ALL_QUERY_WORDS
from cursor_bridge.emulator.script import parse_script
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.queries import answer_query
from cursor_bridge.protocol.wire import field_bytes


def test_query_directives_parse() -> None:
    assert parse_script("/query all").queries == ALL_QUERY_WORDS
    assert parse_script("/query web-fetch\n/query unknown").queries == ("web-fetch", "unknown")
    assert parse_script("/query nope").error.startswith("unknown query kind 'nope'")
    script = parse_script("/trace\n/compress\n/reply x")
    assert script.trace and script.compress


async def _typed_answers(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
    if message.WhichOneof("message") == "interaction_query":
        raw = field_bytes(message.SerializeToString(), 7)
        answer = answer_query(message.interaction_query, raw)
        await driver.send(agent.AgentClientMessage.FromString(answer.message))


async def test_every_query_kind_is_answered_when_the_reply_is_typed(
    emulator: EmulatorServer, client: H2Client
) -> None:
    transcript = await TurnDriver(client, on_message=_typed_answers).run(user_request("/query all"))
    assert transcript.end is not None and transcript.end.error is None
    lines = transcript.text.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"- query {w}" for w in ALL_QUERY_WORDS]
    assert "- query setup-vm: success" in transcript.text
    assert "- query pr-management: rejected" in transcript.text
    assert "- query unknown: rejected {'reason':" in transcript.text
    ids = [m.interaction_query.id for m in transcript.messages if m.HasField("interaction_query")]
    assert ids == list(range(len(ALL_QUERY_WORDS)))  # the first one is id 0
    assert emulator.counters.queries_answered == len(ALL_QUERY_WORDS)
    assert emulator.counters.queries_wrong_shape == 0


@pytest.mark.parametrize("options", [EmulatorOptions(heartbeat_interval=0.02)])
async def test_an_id_only_reply_stalls_the_run_with_heartbeats(
    emulator: EmulatorServer, client: H2Client
) -> None:
    """No decision, no progress: only heartbeats (current-client.md §1 #1, §4)."""

    async def id_only(message: agent.AgentServerMessage, driver: TurnDriver) -> None:
        which = message.WhichOneof("message")
        if which == "interaction_query":
            response = agent.InteractionResponse(id=message.interaction_query.id)
            await driver.send(agent.AgentClientMessage(interaction_response=response))
        elif driver.transcript.kinds.count("update.heartbeat") >= 5:
            driver.cancel()

    transcript = await asyncio.wait_for(
        TurnDriver(client, on_message=id_only).run(user_request("/query create-plan")), 10
    )
    assert "update.text_delta" not in transcript.kinds
    assert transcript.kinds.count("update.heartbeat") >= 5
    assert emulator.counters.queries_wrong_shape == 1
    assert emulator.counters.queries_answered == 0


async def test_trace_sends_span_context_in_both_shapes(client: H2Client) -> None:
    driver = TurnDriver(
        client,
        on_exec=lambda request: [
            agent.AgentClientMessage(
                exec_client_message=agent.ExecClientMessage(
                    id=request.id,
                    ls_result=agent.LsResult(error=agent.LsError(path="/", error="no")),
                )
            )
        ],
    )
    transcript = await driver.run(
        user_request('/trace\n/exec ls {"path": "/"}\n/then\n/exec ls {"path": "/x"}\n/reply ok')
    )
    assert transcript.end is not None and transcript.end.error is None
    spans = [
        field_bytes(m.exec_server_message.SerializeToString(), 19)
        for m in transcript.messages
        if m.exec_server_message.HasField("ls_args")
    ]
    assert agent.SpanContext.FromString(spans[0]).trace_id  # the message shape
    assert spans[1].startswith(b"00-")  # the string shape
    # Display records for the built-in ls: started with its args, completed with its result.
    started = [
        m.interaction_update.tool_call_started
        for m in transcript.messages
        if m.interaction_update.HasField("tool_call_started")
    ]
    completed = [
        m.interaction_update.tool_call_completed
        for m in transcript.messages
        if m.interaction_update.HasField("tool_call_completed")
    ]
    assert started[0].tool_call.ls_tool_call.args.path == "/"
    assert completed[0].tool_call.ls_tool_call.result.error.error == "no"
