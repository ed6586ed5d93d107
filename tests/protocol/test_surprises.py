"""Protocol surprises: what the backend sends that we did not expect is named, never hidden."""

from __future__ import annotations

from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.protocol.framing import encode_end_stream, encode_envelope
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.protocol.surprises import Surprise, SurpriseWatch
from cursor_bridge.protocol.wire import encode_varint

BIG_FIELD = 4242


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field, encoded by hand (our schema does not know the number)."""
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3) + encode_varint(value)


def machine() -> tuple[RunMachine, list[Surprise]]:
    seen: list[Surprise] = []
    run = RunMachine(
        blobs=MemoryBlobStore(),
        request_context=agent.RequestContext(),
        surprises=SurpriseWatch(seen.append),
    )
    run.start(agent.AgentRunRequest(conversation_id="c1"))
    return run, seen


def frame(payload: bytes) -> bytes:
    return encode_envelope(payload)


def update_with_unknown_text_field() -> bytes:
    text = agent.TextDeltaUpdate(text="hi").SerializeToString() + _varint_field(BIG_FIELD, 7)
    update = _field(1, text)  # InteractionUpdate.text_delta
    return frame(_field(1, update))  # AgentServerMessage.interaction_update


def test_unknown_field_is_named_with_its_path_and_number() -> None:
    run, seen = machine()
    run.receive_data(update_with_unknown_text_field())
    assert seen == [Surprise("interaction_update.text_delta", "unknown_field", BIG_FIELD)]


def test_unknown_members_are_named_by_level() -> None:
    run, seen = machine()
    query = agent.InteractionQuery(id=3).SerializeToString() + _field(99, b"")
    exec_request = agent.ExecServerMessage(id=4, exec_id="e").SerializeToString() + _field(77, b"")
    run.receive_data(
        frame(_field(7, query))  # interaction_query with a kind we do not know
        + frame(_field(2, exec_request))  # exec with a kind we do not know
        + frame(_field(1, _field(55, b"")))  # an interaction update we do not know
        + frame(_field(66, b"\x08\x01"))  # a server message we do not know
    )
    assert [(s.where, s.what, s.number) for s in seen] == [
        ("interaction_query", "unknown_query_kind", 99),
        ("exec_server_message", "unknown_exec_kind", 77),
        ("interaction_update", "unknown_member", 55),
        ("AgentServerMessage", "unknown_message", 66),
    ]


def test_blob_request_for_an_id_never_stored() -> None:
    run, seen = machine()
    kv = agent.KvServerMessage(id=1, get_blob_args=agent.GetBlobArgs(blob_id=b"\x01" * 32))
    run.receive_data(frame(agent.AgentServerMessage(kv_server_message=kv).SerializeToString()))
    assert [s.what for s in seen] == ["blob_not_stored"]


def test_end_before_turn_ended_and_error_codes() -> None:
    run, seen = machine()
    run.receive_data(encode_end_stream())
    assert seen == [Surprise("end_stream", "ended_before_turn_ended")]
    run, seen = machine()
    run.receive_data(encode_end_stream(ConnectError("resource_exhausted", "limit")))
    assert [s.label for s in seen] == ["error_code:resource_exhausted"]


def test_a_clean_turn_has_no_surprise_and_the_checkpoint_is_opaque() -> None:
    run, seen = machine()
    checkpoint = agent.ConversationStateStructure(
        token_details=agent.ConversationTokenDetails(used_tokens=5)
    ).SerializeToString() + _field(400, b"server state newer than our schema")
    ended = agent.InteractionUpdate(turn_ended=agent.TurnEndedUpdate(output_tokens=1))
    run.receive_data(
        frame(_field(3, checkpoint))
        + frame(agent.AgentServerMessage(interaction_update=ended).SerializeToString())
        + encode_end_stream()
    )
    assert seen == []


def test_per_token_messages_are_sampled() -> None:
    run, seen = machine()
    run.receive_data(update_with_unknown_text_field() * 100)
    assert len(seen) == 64  # then trusted


def test_an_http_refusal_is_an_error_code_with_its_status() -> None:
    seen: list[Surprise] = []
    watch = SurpriseWatch(seen.append)
    watch.http_error(429, "resource_exhausted")
    watch.http_error(500, "a made-up code with <content>")
    assert [(s.where, s.label, s.number) for s in seen] == [
        ("http_status", "error_code:resource_exhausted", 429),
        ("http_status", "error_code:unknown", 500),
    ]
