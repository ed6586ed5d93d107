"""RunMachine against the current client's wire facts (current-client.md §4, §5, §8, §9)."""

from __future__ import annotations

import pytest

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.framing import EnvelopeDecoder, encode_envelope
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.queries import answer_query
from cursor_bridge.protocol.run import RunMachine, RunState
from cursor_bridge.protocol.wire import len_field, top_level_fields


def started(context: agent.RequestContext | None = None) -> RunMachine:
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=context or agent.RequestContext())
    machine.start(agent.AgentRunRequest(conversation_id="c1"))
    return machine


def replies(machine: RunMachine) -> list[agent.AgentClientMessage]:
    return [
        agent.AgentClientMessage.FromString(e.payload)
        for e in EnvelopeDecoder().feed(machine.data_to_send())
    ]


def query_frame(query: agent.InteractionQuery) -> bytes:
    return encode_envelope(agent.AgentServerMessage(interaction_query=query).SerializeToString())


QUERIES: list[tuple[str, str, str]] = [
    # (query field, response field, decision case inside)
    ("web_search_request_query", "web_search_request_response", "rejected"),
    ("ask_question_interaction_query", "ask_question_interaction_response", "rejected"),
    ("switch_mode_request_query", "switch_mode_request_response", "rejected"),
    ("exa_search_request_query", "exa_search_request_response", "rejected"),
    ("exa_fetch_request_query", "exa_fetch_request_response", "rejected"),
    ("create_plan_request_query", "create_plan_request_response", "error"),
    ("setup_vm_environment_args", "setup_vm_environment_result", "success"),
    ("web_fetch_request_query", "web_fetch_request_response", "rejected"),
    ("pr_management_request_query", "pr_management_result", "rejected"),
    ("mcp_auth_request_query", "mcp_auth_request_response", "rejected"),
    ("generate_image_request_query", "generate_image_request_response", "rejected"),
    ("replace_env_args", "replace_env_result", "failure"),
    ("connect_scm_request_query", "connect_scm_request_response", "rejected"),
]


def test_every_declared_query_kind_is_in_the_table() -> None:
    declared = {f.name for f in agent.InteractionQuery.DESCRIPTOR.oneofs_by_name["query"].fields}
    assert declared == {q for q, _, _ in QUERIES}


@pytest.mark.parametrize(("query_field", "response_field", "case"), QUERIES)
def test_each_query_gets_a_typed_reply_at_its_field_number(
    query_field: str, response_field: str, case: str
) -> None:
    machine = started()
    query = agent.InteractionQuery()  # id 0: absent on the wire, answered with id 0
    getattr(query, query_field).SetInParent()
    events = machine.receive_data(query_frame(query))
    assert events == [ev.QueryAnswered(query_field, case)]
    (reply,) = replies(machine)
    response = reply.interaction_response
    assert response.id == 0
    assert response.WhichOneof("result") == response_field
    number = agent.InteractionQuery.DESCRIPTOR.fields_by_name[query_field].number
    assert agent.InteractionResponse.DESCRIPTOR.fields_by_name[response_field].number == number
    inner = getattr(response, response_field)
    decided = (
        inner.result
        if response_field
        in (
            "ask_question_interaction_response",
            "create_plan_request_response",
        )
        else inner
    )
    assert decided.WhichOneof("result") == case
    reason = getattr(decided, case)
    # Every refusal says what to do instead (a reason the model can act on).
    text = " ".join(str(v) for _, v in reason.ListFields())
    if case != "success":
        assert len(text) > 30, text


def test_pr_management_rejected_is_field_3() -> None:
    answer = answer_query(
        agent.InteractionQuery(id=4, pr_management_request_query=agent.PrManagementRequestQuery()),
        b"",
    )
    response = agent.AgentClientMessage.FromString(answer.message).interaction_response
    raw = response.SerializeToString()
    (inner,) = [v for n, _, v in top_level_fields(raw) if n == 10]
    assert [n for n, _, _ in top_level_fields(inner)] == [3]


def test_ask_question_reason_routes_the_question_to_the_answer_text() -> None:
    query = agent.InteractionQuery(
        id=2, ask_question_interaction_query=agent.AskQuestionInteractionQuery(tool_call_id="t")
    )
    answer = answer_query(query, b"")
    response = agent.AgentClientMessage.FromString(answer.message).interaction_response
    reason = response.ask_question_interaction_response.result.rejected.reason
    assert "in your reply text" in reason
    assert response.id == 2


def test_unknown_query_kind_gets_a_typed_rejection_at_its_field_number() -> None:
    machine = started()
    raw_query = agent.InteractionQuery(id=7).SerializeToString() + len_field(40, b"\x0a\x01x")
    frame = encode_envelope(len_field(7, raw_query))  # AgentServerMessage.interaction_query
    assert machine.receive_data(frame) == [ev.QueryAnswered("unknown_40", "rejected")]
    (reply,) = replies(machine)
    raw = reply.interaction_response.SerializeToString()  # unknown fields are kept
    fields = {n: v for n, _, v in top_level_fields(raw)}
    assert reply.interaction_response.id == 7
    (case, _, body) = next(iter(top_level_fields(fields[40])))
    assert case == 2  # rejected
    (_, _, reason) = next(iter(top_level_fields(body)))
    assert b"not available through this API" in reason


def test_mcp_state_is_answered_from_the_context_descriptors_without_stream_close() -> None:
    tool = agent.McpToolDefinition(name="w", tool_name="w", provider_identifier="cursor-bridge")
    descriptor = agent.McpDescriptor(server_name="cursor-bridge", server_identifier="cursor-bridge")
    context = agent.RequestContext(
        tools=[tool],
        mcp_meta_tool_options=agent.McpMetaToolOptions(enabled=True, mcp_descriptors=[descriptor]),
    )
    machine = started(context)
    request = agent.ExecServerMessage(
        id=3, exec_id="e3", mcp_state_exec_args=agent.McpStateExecArgs()
    )
    frame = encode_envelope(
        agent.AgentServerMessage(exec_server_message=request).SerializeToString()
    )
    assert machine.receive_data(frame) == []
    (reply,) = replies(machine)  # no stream_close after it (§5)
    result = reply.exec_client_message.mcp_state_exec_result
    (server,) = result.success.servers
    assert server.server_identifier == "cursor-bridge"
    assert [t.name for t in server.tools] == ["w"]


def test_a_blob_we_never_stored_fails_the_run_and_is_never_answered_empty() -> None:
    machine = started()
    frame = encode_envelope(
        agent.AgentServerMessage(
            kv_server_message=agent.KvServerMessage(
                id=1, get_blob_args=agent.GetBlobArgs(blob_id=b"\x07" * 32)
            )
        ).SerializeToString()
    )
    events = machine.receive_data(frame)
    assert events[0] == ev.BlobServed(b"\x07" * 32, False)
    assert isinstance(events[1], ev.RunFailed)
    assert events[1].error.message.startswith("Blob not found: 0707")
    assert not machine.owes_data  # no empty get_blob_result went out
    assert machine.state is RunState.FAILED


@pytest.mark.parametrize(
    "span",
    [
        agent.SpanContext(trace_id="t", span_id="s").SerializeToString(),
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ],
    ids=["message", "string"],
)
def test_span_context_in_either_shape_is_skipped(span: bytes) -> None:
    machine = started()
    exec_body = agent.ExecServerMessage(
        id=5, exec_id="e5", read_args=agent.ReadArgs(path="a.txt")
    ).SerializeToString() + len_field(19, span)
    (event,) = machine.receive_data(encode_envelope(len_field(2, exec_body)))
    assert isinstance(event, ev.ExecRequested)
    assert event.kind == "read_args" and event.args["path"] == "a.txt"


def test_ttft_breakdown_outside_the_oneof_and_compressed_frames_decode() -> None:
    machine = started()
    update = agent.AgentServerMessage(
        interaction_update=agent.InteractionUpdate(text_delta=agent.TextDeltaUpdate(text="hi"))
    ).SerializeToString() + len_field(8, b"\x08\x0c")
    events = machine.receive_data(encode_envelope(update, compress=True))
    assert events == [ev.TextDelta("hi")]


def test_a_checkpoint_is_echoed_byte_for_byte() -> None:
    # Fields out of number order, as the backend may write them: re-encoding would reorder.
    raw_state = len_field(8, b"\x01" * 32) + len_field(1, b"\x02" * 32)
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    request = agent.AgentRunRequest(conversation_id="c1", run_id="r1")
    frame = machine.start(request, raw_state)
    (envelope,) = EnvelopeDecoder().feed(frame)
    run_request = dict((n, v) for n, _, v in top_level_fields(envelope.payload))[1]
    assert dict((n, v) for n, _, v in top_level_fields(run_request))[1] == raw_state
    decoded = agent.AgentClientMessage.FromString(envelope.payload).run_request
    assert decoded.conversation_id == "c1" and decoded.run_id == "r1"
    assert list(decoded.conversation_state.turns) == [b"\x01" * 32]
