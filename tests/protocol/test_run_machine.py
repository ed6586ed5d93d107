"""RunMachine: server bytes in, events and owed replies out (no sockets)."""

from __future__ import annotations

import pytest

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore, blob_id
from cursor_bridge.protocol.errors import ConnectError, LocalProtocolError, UpstreamProtocolError
from cursor_bridge.protocol.framing import EnvelopeDecoder, encode_end_stream, encode_envelope
from cursor_bridge.protocol.messages import agent, json_to_value_bytes
from cursor_bridge.protocol.run import RunMachine, RunState


def server(**fields: object) -> bytes:
    return encode_envelope(agent.AgentServerMessage(**fields).SerializeToString())  # type: ignore[arg-type]


def update(**fields: object) -> bytes:
    return server(interaction_update=agent.InteractionUpdate(**fields))  # type: ignore[arg-type]


def client_messages(data: bytes) -> list[agent.AgentClientMessage]:
    out = []
    for envelope in EnvelopeDecoder().feed(data):
        message = agent.AgentClientMessage()
        message.ParseFromString(envelope.payload)
        out.append(message)
    return out


def started(store: MemoryBlobStore | None = None, system: str = "") -> RunMachine:
    context = agent.RequestContext(cloud_rule=system) if system else agent.RequestContext()
    machine = RunMachine(blobs=store or MemoryBlobStore(), request_context=context)
    first = machine.start(agent.AgentRunRequest(conversation_id="c1"))
    (message,) = client_messages(first)
    assert message.WhichOneof("message") == "run_request"
    return machine


def test_text_turn_yields_deltas_usage_and_clean_close() -> None:
    machine = started()
    data = (
        update(thinking_delta=agent.ThinkingDeltaUpdate(text="hmm"))
        + update(text_delta=agent.TextDeltaUpdate(text="Hel"))
        + update(token_delta=agent.TokenDeltaUpdate(tokens=1))
        + update(text_delta=agent.TextDeltaUpdate(text="lo"))
        + update(heartbeat=agent.HeartbeatUpdate())
        + update(step_completed=agent.StepCompletedUpdate(step_id=7, step_duration_ms=3))
        + update(
            turn_ended=agent.TurnEndedUpdate(
                input_tokens=10, output_tokens=2, cache_read=4, reasoning_tokens=1
            )
        )
        + encode_end_stream()
    )
    events = machine.receive_data(data)
    # Text and token deltas that arrive together are merged into one event each.
    assert events == [
        ev.ThinkingDelta("hmm"),
        ev.TextDelta("Hello"),
        ev.TokenDelta(1),
        ev.ServerHeartbeat(),
        ev.StepCompleted(7),
        ev.TurnEnded(ev.Usage(10, 2, 4, 0, 1)),
        ev.StreamClosed(),
    ]
    assert machine.state is RunState.CLOSED
    assert machine.data_to_send() == b""


def test_byte_by_byte_feeding_gives_the_same_events() -> None:
    data = update(text_delta=agent.TextDeltaUpdate(text="abc")) + update(
        turn_ended=agent.TurnEndedUpdate(input_tokens=1, output_tokens=1)
    )
    whole = started().receive_data(data)
    machine = started()
    pieces = [e for i in range(len(data)) for e in machine.receive_data(data[i : i + 1])]
    assert pieces == whole


def test_usage_falls_back_to_token_deltas_and_checkpoint_when_turn_ended_is_empty() -> None:
    machine = started()
    state = agent.ConversationStateStructure(
        token_details=agent.ConversationTokenDetails(used_tokens=50, max_tokens=200_000)
    )
    events = machine.receive_data(
        update(token_delta=agent.TokenDeltaUpdate(tokens=3))
        + update(token_delta=agent.TokenDeltaUpdate(tokens=4))
        + server(conversation_checkpoint_update=state)
        + update(turn_ended=agent.TurnEndedUpdate())
    )
    assert events[-1] == ev.TurnEnded(ev.Usage(input_tokens=43, output_tokens=7))


def test_checkpoint_bytes_are_kept_verbatim_including_unknown_fields() -> None:
    state = agent.ConversationStateStructure(turns=[b"\x01" * 32])
    # Field 99 is unknown to our schema; it must survive untouched.
    raw_state = state.SerializeToString() + b"\x9a\x06\x03xyz"
    payload = b"\x1a" + bytes([len(raw_state)]) + raw_state
    machine = started()
    (checkpoint,) = machine.receive_data(encode_envelope(payload))
    assert isinstance(checkpoint, ev.Checkpoint)
    assert checkpoint.state == raw_state
    assert machine.last_checkpoint == raw_state


def test_kv_get_and_set_are_answered_from_the_store() -> None:
    store = MemoryBlobStore()
    known = b"hello blob"
    store.put(blob_id(known), known)
    machine = started(store)
    new_data = b"new blob"
    events = machine.receive_data(
        server(
            kv_server_message=agent.KvServerMessage(
                id=1, get_blob_args=agent.GetBlobArgs(blob_id=blob_id(known))
            )
        )
        + server(
            kv_server_message=agent.KvServerMessage(
                id=3, set_blob_args=agent.SetBlobArgs(blob_id=blob_id(new_data), blob_data=new_data)
            )
        )
    )
    assert events == [
        ev.BlobServed(blob_id(known), True),
        ev.BlobStored(blob_id(new_data), len(new_data)),
    ]
    assert store.get(blob_id(new_data)) == new_data
    assert machine.owes_data
    replies = [m.kv_client_message for m in client_messages(machine.data_to_send())]
    assert not machine.owes_data
    assert [r.id for r in replies] == [1, 3]
    assert replies[0].get_blob_result.blob_data == known
    assert replies[1].WhichOneof("message") == "set_blob_result"


def test_short_blob_ids_are_content_as_id_and_echoed() -> None:
    machine = started()
    inline = b'{"role":"system","content":"x"}'
    machine.receive_data(
        server(
            kv_server_message=agent.KvServerMessage(
                id=7, get_blob_args=agent.GetBlobArgs(blob_id=inline)
            )
        )
    )
    (reply,) = client_messages(machine.data_to_send())
    assert reply.kv_client_message.get_blob_result.blob_data == inline


def test_request_context_is_answered_without_stream_close() -> None:
    """The current client sends no stream_close after request_context_result (§5)."""
    machine = started(system="be brief")
    events = machine.receive_data(
        server(
            exec_server_message=agent.ExecServerMessage(
                id=4, exec_id="e4", request_context_args=agent.RequestContextArgs()
            )
        )
    )
    assert events == []
    (result,) = client_messages(machine.data_to_send())
    assert result.exec_client_message.id == 4
    assert result.exec_client_message.exec_id == "e4"
    context = result.exec_client_message.request_context_result.success.request_context
    assert context.cloud_rule == "be brief"


def test_mcp_exec_becomes_an_event_and_its_result_is_sent_on_request() -> None:
    machine = started()
    args = agent.McpArgs(
        name="bridge-read",
        tool_name="read",
        tool_call_id="tc1",
        provider_identifier="bridge",
        args={"filePath": json_to_value_bytes("a.txt"), "limit": json_to_value_bytes(5)},
    )
    (event,) = machine.receive_data(
        server(exec_server_message=agent.ExecServerMessage(id=9, exec_id="x", mcp_args=args))
    )
    assert event == ev.ExecRequested(
        9,
        "x",
        "mcp_args",
        {"filePath": "a.txt", "limit": 5.0},
        tool_call_id="tc1",
        tool_name="read",
        wire_name="bridge-read",
        provider="bridge",
    )
    assert machine.data_to_send() == b""
    result = agent.ExecClientMessage(id=9)
    result.mcp_result.success.content.add().text.text = "file body"
    machine.send_exec_result(result)
    sent, close = client_messages(machine.data_to_send())
    assert sent.exec_client_message.exec_id == "x"
    assert sent.exec_client_message.mcp_result.success.content[0].text.text == "file body"
    assert close.exec_client_control_message.stream_close.id == 9
    with pytest.raises(LocalProtocolError):
        machine.send_exec_result(agent.ExecClientMessage(id=9))


def test_unknown_exec_variant_is_refused_with_throw() -> None:
    machine = started()
    # Exec id 5 with an unknown oneof member (field 44, length-delimited, empty).
    payload = agent.ExecServerMessage(id=5).SerializeToString() + b"\xe2\x02\x00"
    (event,) = machine.receive_data(
        server(exec_server_message=agent.ExecServerMessage.FromString(payload))
    )
    assert isinstance(event, ev.ExecRequested) and event.kind == "unknown"
    (reply,) = client_messages(machine.data_to_send())
    assert reply.exec_client_control_message.throw.id == 5


def test_interaction_queries_are_declined() -> None:
    machine = started()
    query = agent.InteractionQuery(
        id=3,
        web_search_request_query=agent.WebSearchRequestQuery(
            args=agent.WebSearchArgs(search_term="x")
        ),
    )
    assert machine.receive_data(server(interaction_query=query)) == [
        ev.QueryAnswered("web_search_request_query", "rejected")
    ]
    (reply,) = client_messages(machine.data_to_send())
    assert reply.interaction_response.id == 3
    assert reply.interaction_response.web_search_request_response.WhichOneof("result") == "rejected"


def test_error_trailer_fails_the_run_with_a_typed_error() -> None:
    machine = started()
    events = machine.receive_data(
        update(text_delta=agent.TextDeltaUpdate(text="a"))
        + encode_end_stream(ConnectError("resource_exhausted", "usage limit"))
    )
    assert events[0] == ev.TextDelta("a")
    failed = events[1]
    assert isinstance(failed, ev.RunFailed)
    assert (failed.error.code, failed.error.message) == ("resource_exhausted", "usage limit")
    assert machine.state is RunState.FAILED


def test_clean_end_before_turn_ended_is_an_interruption() -> None:
    machine = started()
    (failed,) = machine.receive_data(encode_end_stream())
    assert isinstance(failed, ev.RunFailed) and failed.error.code == "unavailable"


def test_eof_without_end_frame_and_grpc_trailers() -> None:
    machine = started()
    (failed,) = machine.receive_eof([("grpc-status", "16"), ("grpc-message", "token%20expired")])
    assert isinstance(failed, ev.RunFailed)
    assert (failed.error.code, failed.error.message) == ("unauthenticated", "token expired")

    machine = started()
    machine.receive_data(update(turn_ended=agent.TurnEndedUpdate(output_tokens=1)))
    assert machine.receive_eof() == [ev.StreamClosed()]


def test_undecodable_message_is_an_upstream_protocol_error() -> None:
    machine = started()
    with pytest.raises(UpstreamProtocolError):
        machine.receive_data(encode_envelope(b"\xff\xff\xff"))


def test_start_twice_is_a_local_error() -> None:
    machine = started()
    with pytest.raises(LocalProtocolError):
        machine.start(agent.AgentRunRequest())


def test_heartbeat_and_cancel_frames() -> None:
    machine = started()
    (beat,) = client_messages(machine.heartbeat())
    assert beat.WhichOneof("message") == "client_heartbeat"
    (cancel,) = client_messages(machine.cancel())
    assert cancel.conversation_action.WhichOneof("action") == "cancel_action"


def test_a_todo_list_update_becomes_an_event() -> None:
    machine = started()
    items = [
        agent.TodoItem(id="1", content="Read", status=agent.TODO_STATUS_COMPLETED),
        agent.TodoItem(id="2", content="Write", status=agent.TODO_STATUS_IN_PROGRESS),
    ]
    call = agent.ToolCall(
        update_todos_tool_call=agent.UpdateTodosToolCall(
            args=agent.UpdateTodosArgs(todos=items[1:], merge=True),
            result=agent.UpdateTodosResult(success=agent.UpdateTodosSuccess(todos=items)),
        )
    )
    update = agent.InteractionUpdate(
        tool_call_completed=agent.ToolCallCompletedUpdate(call_id="c", tool_call=call)
    )
    (event,) = machine.receive_data(server(interaction_update=update))
    # The merged list from the result, not the partial one from the args.
    assert event == ev.TodosUpdated(
        (ev.Todo("1", "Read", "completed"), ev.Todo("2", "Write", "in_progress"))
    )
    assert machine.data_to_send() == b""  # display only: nothing to answer
