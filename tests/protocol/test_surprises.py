"""Protocol surprises: what the backend sends that we did not expect is named, never hidden."""

from __future__ import annotations

import random

import pytest
from google.protobuf import unknown_fields
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from cursor_bridge.protocol import surprises
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.protocol.framing import encode_end_stream, encode_envelope
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.protocol.surprises import Surprise, SurpriseWatch
from cursor_bridge.protocol.wire import encode_varint
from cursor_bridge.protocol.wire_shape import is_real_oneof

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


def _reference_walk(message: Message, path: str, out: list[Surprise]) -> None:
    """The walk as first written (every set field through ListFields), to check that the
    cheaper one finds the same surprises in the same order."""
    descriptor = message.DESCRIPTOR
    opaque = surprises._OPAQUE.get(descriptor.full_name)
    unknown = unknown_fields.UnknownFieldSet(message)
    if len(unknown) and opaque is None:
        empty = [
            o for o in descriptor.oneofs if is_real_oneof(o) and message.WhichOneof(o.name) is None
        ]
        for index in range(len(unknown)):
            field = unknown[index]
            what = surprises.UNKNOWN_FIELD
            if empty and field.wire_type == 2:
                what = surprises._ONEOF_WHAT.get(descriptor.full_name, surprises.UNKNOWN_MEMBER)
            out.append(Surprise(path or descriptor.name, what, field.field_number))
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if opaque is not None and field.name not in opaque:
            continue
        child = f"{path}.{field.name}" if path else field.name
        if field.message_type.GetOptions().map_entry:
            values = value.values()
            if values and isinstance(next(iter(values)), Message):
                for item in values:
                    _reference_walk(item, child, out)
        elif field.is_repeated:
            for item in value:
                _reference_walk(item, child, out)
        else:
            _reference_walk(value, child, out)


def _fill(message: Message, rng: random.Random, depth: int) -> None:
    """Set random sub-messages (singular, oneof members, repeated, map values) and sprinkle
    unknown fields at every level."""
    if rng.random() < 0.4:
        wire = (
            _varint_field(BIG_FIELD + depth, 1) if rng.random() < 0.5 else _field(BIG_FIELD, b"x")
        )
        message.MergeFromString(wire)
    if depth >= 4:
        return
    fields = [f for f in message.DESCRIPTOR.fields if f.type == FieldDescriptor.TYPE_MESSAGE]
    for field in rng.sample(fields, min(len(fields), rng.randint(0, 3))):
        value = getattr(message, field.name)
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            key = "k" if field.message_type.fields_by_name["key"].type == 9 else 1
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                _fill(value[key], rng, depth + 1)
        elif field.is_repeated:
            for _ in range(rng.randint(1, 2)):
                _fill(value.add(), rng, depth + 1)
        else:
            value.SetInParent()
            _fill(value, rng, depth + 1)


@pytest.mark.parametrize("seed", range(60))
def test_the_walk_finds_what_a_walk_over_every_field_finds(seed: int) -> None:
    rng = random.Random(seed)
    message = agent.AgentServerMessage()
    _fill(message, rng, 0)
    expected: list[Surprise] = []
    _reference_walk(message, "", expected)
    assert surprises.inspect(message) == expected


def test_the_walk_reaches_map_values_and_keeps_field_order() -> None:
    message = agent.AgentServerMessage()
    call = message.interaction_update.tool_call_started.tool_call
    grep = call.grep_tool_call
    grep.result.success.workspace_results["/w"].MergeFromString(_varint_field(BIG_FIELD, 1))
    grep.args.MergeFromString(_varint_field(BIG_FIELD + 1, 1))
    where = "interaction_update.tool_call_started.tool_call.grep_tool_call"
    found = surprises.inspect(message)
    assert [(s.where, s.number) for s in found] == [
        (f"{where}.args", BIG_FIELD + 1),
        (f"{where}.result.success.workspace_results", BIG_FIELD),
    ]
    expected: list[Surprise] = []
    _reference_walk(message, "", expected)
    assert found == expected
