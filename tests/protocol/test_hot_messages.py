"""The hot-message fast path: the full decoder's values, only for shapes with nothing to
report, and KV replies byte-identical to the protobuf ones."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.protocol.framing import encode_envelope
from cursor_bridge.protocol.hot_messages import (
    KV_GET,
    KV_SET,
    STEP_COMPLETED,
    STEP_STARTED,
    TURN_ENDED,
    get_blob_reply,
    read_hot,
    set_blob_reply,
)
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.surprises import inspect

U32 = st.integers(0, 2**32 - 1)
SMALL = st.one_of(st.integers(0, 300), st.integers(0, 2**28 - 1))


def kv(**fields: Any) -> agent.AgentServerMessage:
    return agent.AgentServerMessage(kv_server_message=agent.KvServerMessage(**fields))


def update(**fields: Any) -> agent.AgentServerMessage:
    return agent.AgentServerMessage(interaction_update=agent.InteractionUpdate(**fields))


@st.composite
def hot_messages(draw: st.DrawFn, values: st.SearchStrategy[int] = SMALL) -> bytes:
    """A hot message as the backend's protobuf encoder writes it."""
    kind = draw(st.sampled_from(["set", "get", "started", "completed", "ended"]))
    if kind == "set":
        # Data of any length up to three-byte varints (and the lengths around them).
        data = draw(st.one_of(st.binary(), st.integers(100, 40_000).map(bytes)))
        args = agent.SetBlobArgs(blob_id=draw(st.binary(max_size=40)), blob_data=data)
        message = kv(id=draw(values), set_blob_args=args)
    elif kind == "get":
        message = kv(id=draw(values), get_blob_args=agent.GetBlobArgs(blob_id=draw(st.binary())))
    elif kind == "started":
        message = update(step_started=agent.StepStartedUpdate(step_id=draw(values)))
    elif kind == "completed":
        completed = agent.StepCompletedUpdate(step_id=draw(values), step_duration_ms=draw(values))
        message = update(step_completed=completed)
    else:
        ended = agent.TurnEndedUpdate()
        for name in ("input_tokens", "output_tokens", "cache_read", "cache_write"):
            if draw(st.booleans()):
                setattr(ended, name, draw(values))
        if draw(st.booleans()):
            ended.reasoning_tokens = draw(values)
        message = update(turn_ended=ended)
    return message.SerializeToString()


def reference(payload: bytes) -> tuple[Any, ...] | None:
    """What the full decoder reads from *payload*, in `read_hot`'s form."""
    message = agent.AgentServerMessage.FromString(payload)
    kind = message.WhichOneof("message")
    if kind == "kv_server_message":
        request = message.kv_server_message
        which = request.WhichOneof("message")
        if which == "set_blob_args":
            args = request.set_blob_args
            return (KV_SET, request.id, args.blob_id, args.blob_data)
        if which == "get_blob_args":
            return (KV_GET, request.id, request.get_blob_args.blob_id)
    elif kind == "interaction_update":
        upd = message.interaction_update
        which = upd.WhichOneof("message")
        if which == "step_started":
            return (STEP_STARTED, upd.step_started.step_id)
        if which == "step_completed":
            return (STEP_COMPLETED, upd.step_completed.step_id)
        if which == "turn_ended":
            t = upd.turn_ended
            usage = (t.input_tokens, t.output_tokens, t.cache_read, t.cache_write)
            return (TURN_ENDED, (*usage, t.reasoning_tokens))
    return None


@given(hot_messages())
@settings(max_examples=400, deadline=None)
def test_encoded_hot_messages_are_read_as_the_full_decoder_reads_them(payload: bytes) -> None:
    expected = reference(payload)
    assert expected is not None
    assert read_hot(payload) == expected


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A hot message with a few random edits: flipped, inserted, removed or added bytes."""
    data = bytearray(draw(hot_messages(U32)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "insert", "delete", "append"]))
        at = draw(st.integers(0, len(data)))
        if op == "set" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 3))]
        else:
            data += draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


@given(mutated())
@settings(max_examples=3000, deadline=None)
def test_whatever_is_read_decodes_the_same_and_holds_no_surprise(payload: bytes) -> None:
    """Exactly the property the RunMachine relies on to skip the decoder and the surprise
    walk: anything `read_hot` accepts parses, with the same values, and has nothing that
    `inspect` would report."""
    hot = read_hot(payload)
    if hot is None:
        return
    message = agent.AgentServerMessage.FromString(payload)  # raises if it does not parse
    assert reference(payload) == hot
    assert inspect(message) == []


def unknown(number: int) -> bytes:
    return bytes((number << 3 | 2, 1, 0x41))  # a LEN field of one byte


SET = kv(id=7, set_blob_args=agent.SetBlobArgs(blob_id=b"k" * 32, blob_data=b"data"))


@pytest.mark.parametrize(
    "payload",
    [
        SET.SerializeToString() + unknown(9),  # an unknown top-level field after the kv
        unknown(9) + SET.SerializeToString(),  # and before it
        # an unknown field inside KvServerMessage, inside SetBlobArgs, inside turn_ended
        kv(id=7).SerializeToString()[:-2] + b"\x22\x05\x08\x07" + unknown(7)[:2],
        b"\x22\x09\x08\x07\x1a\x05\x12\x01d" + unknown(3)[:2],
        b"\x0a\x05\x72\x03\x08\x01" + b"\x30",
        b"\x0a\x07\x72\x05\x08\x01\x30\x02\x00"[:-1],
        # the same field twice, fields out of order, a field with another wire type
        b"\x22\x08\x08\x07\x08\x07\x1a\x02\x12\x00",
        b"\x22\x06\x1a\x02\x12\x00\x08\x07",
        b"\x0a\x06\x72\x04\x10\x01\x08\x01",
        b"\x0a\x06\x72\x04\x08\x01\x08\x02",
        b"\x0a\x05\x72\x03\x0d\x01\x00",
        b"\x0a\x04\x72\x02\x0d\x01",  # field 1 as a fixed32 (wire type 5)
        b"\x0a\x05\x8a\x01\x02\x0a\x00",  # step_id as a LEN field
        b"\x22\x04\x1a\x02\x12\x00" + b"\x22\x04\x1a\x02\x12\x00",  # two kv messages (merged)
        # a set_blob with both oneof members, a varint of 5 bytes, a truncated payload
        b"\x22\x06\x12\x00\x1a\x02\x12\x00",
        b"\x22\x08\x08\x80\x80\x80\x80\x01\x1a\x00",
        SET.SerializeToString()[:-1],
        b"\x22\x80\x00",
        b"\x22\x01\x08",
        b"\x22\x04\x1a\x02\x12\x80",  # a length cut short at the very end
        b"\x22\x05\x1a\x03\x12\x80\x01",  # a two-byte length running past the end
    ],
)
def test_anything_else_goes_to_the_full_decoder(payload: bytes) -> None:
    assert read_hot(payload) is None


def test_other_kinds_go_to_the_full_decoder() -> None:
    for message in (
        update(text_delta=agent.TextDeltaUpdate(text="a")),
        update(heartbeat=agent.HeartbeatUpdate()),
        agent.AgentServerMessage(exec_server_message=agent.ExecServerMessage(id=1)),
        agent.AgentServerMessage(conversation_checkpoint_update=agent.ConversationStateStructure()),
    ):
        assert read_hot(message.SerializeToString()) is None


@given(U32, st.binary(max_size=300))
@settings(deadline=None)
def test_kv_replies_are_the_protobuf_encoding(kv_id: int, data: bytes) -> None:
    def framed(reply: agent.KvClientMessage) -> bytes:
        message = agent.AgentClientMessage(kv_client_message=reply)
        return encode_envelope(message.SerializeToString())

    set_reply = agent.KvClientMessage(id=kv_id, set_blob_result=agent.SetBlobResult())
    assert set_blob_reply(kv_id) == framed(set_reply)
    get_reply = agent.KvClientMessage(id=kv_id, get_blob_result=agent.GetBlobResult(blob_data=data))
    assert get_blob_reply(kv_id, data) == framed(get_reply)


def test_the_tags_read_are_the_schemas() -> None:
    """The field numbers and types `read_hot` hard-codes, checked against the schema (a
    regenerated schema that moved one fails here, not on the wire)."""
    from google.protobuf.descriptor import FieldDescriptor as F

    def field(message: Any, name: str) -> tuple[int, int]:
        descriptor = message.DESCRIPTOR.fields_by_name[name]
        return descriptor.number, descriptor.type

    assert field(agent.AgentServerMessage, "kv_server_message") == (4, F.TYPE_MESSAGE)
    assert field(agent.AgentServerMessage, "interaction_update") == (1, F.TYPE_MESSAGE)
    assert field(agent.KvServerMessage, "id") == (1, F.TYPE_UINT32)
    assert field(agent.KvServerMessage, "get_blob_args") == (2, F.TYPE_MESSAGE)
    assert field(agent.KvServerMessage, "set_blob_args") == (3, F.TYPE_MESSAGE)
    assert [field(agent.SetBlobArgs, n) for n in ("blob_id", "blob_data")] == [
        (1, F.TYPE_BYTES),
        (2, F.TYPE_BYTES),
    ]
    assert len(agent.SetBlobArgs.DESCRIPTOR.fields) == 2
    assert [f.number for f in agent.GetBlobArgs.DESCRIPTOR.fields] == [1]
    for name, number in (("turn_ended", 14), ("step_started", 16), ("step_completed", 17)):
        assert field(agent.InteractionUpdate, name) == (number, F.TYPE_MESSAGE)
    assert [(f.number, f.type) for f in agent.TurnEndedUpdate.DESCRIPTOR.fields] == [
        (n, F.TYPE_UINT32) for n in range(1, 6)
    ]
    assert [f.number for f in agent.StepStartedUpdate.DESCRIPTOR.fields] == [1]
    assert [f.number for f in agent.StepCompletedUpdate.DESCRIPTOR.fields] == [1, 2]
