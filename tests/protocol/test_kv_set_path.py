"""The KV-set path of `RunMachine._skim` (a set_blob handled where it is read, its answer taken
from the prepared replies) against the general path: the same events, answers and stored
blobs at the edges it depends on (the reply table's end, one-, two- and three-byte lengths),
and the frames it must leave alone still reach the decoder."""

from __future__ import annotations

from unittest import mock

import pytest

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol import run
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.framing import encode_envelope
from cursor_bridge.protocol.hot_messages import SET_REPLIES_KEPT
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.surprises import UNKNOWN_FIELD, Surprise, SurpriseWatch
from tests.support.general_path import general_path

KV_IDS = [0, 1, SET_REPLIES_KEPT - 1, SET_REPLIES_KEPT, SET_REPLIES_KEPT + 1, 2**20]
# Blob sizes around the one-, two- and three-byte lengths of the data and of the args.
SIZES = [0, 1, 90, 127, 128, 200, 16_300, 16_383, 16_384, 40_000]


def set_frame(kv_id: int, key: bytes, data: bytes) -> bytes:
    args = agent.SetBlobArgs(blob_id=key, blob_data=data)
    message = agent.AgentServerMessage(
        kv_server_message=agent.KvServerMessage(id=kv_id, set_blob_args=args)
    )
    return encode_envelope(message.SerializeToString())


def set_reply(kv_id: int) -> bytes:
    kv = agent.KvClientMessage(id=kv_id, set_blob_result=agent.SetBlobResult())
    return encode_envelope(agent.AgentClientMessage(kv_client_message=kv).SerializeToString())


def machine() -> tuple[run.RunMachine, MemoryBlobStore, list[Surprise]]:
    blobs = MemoryBlobStore()
    found: list[Surprise] = []
    machine = run.RunMachine(
        blobs=blobs, request_context=agent.RequestContext(), surprises=SurpriseWatch(found.append)
    )
    machine.start(agent.AgentRunRequest())
    return machine, blobs, found


@pytest.mark.parametrize("kv_id", KV_IDS)
@pytest.mark.parametrize("size", SIZES)
def test_a_set_blob_is_handled_as_the_general_path_handles_it(kv_id: int, size: int) -> None:
    key, data = bytes([size % 251]) * 32, bytes(range(256)) * (size // 256) + b"d" * (size % 256)
    stream = set_frame(kv_id, key, data) + set_frame(kv_id + 1, b"k" * 32, b"second")
    fast, fast_blobs, fast_found = machine()
    slow, slow_blobs, slow_found = machine()
    events = fast.receive_data(stream)
    with general_path():
        assert slow.receive_data(stream) == events
    assert events == [ev.BlobStored(key, size), ev.BlobStored(b"k" * 32, 6)]
    replies = fast.data_to_send()
    assert replies == slow.data_to_send() == set_reply(kv_id) + set_reply(kv_id + 1)
    assert fast_blobs._blobs == slow_blobs._blobs == {key: data, b"k" * 32: b"second"}
    assert fast_found == slow_found == []


def test_a_set_blob_is_read_where_it_arrives() -> None:
    """Neither the decoder's general loop nor `_on_hot` sees a plain set_blob."""
    fast, blobs, _ = machine()
    general = mock.patch.object(run.EnvelopeDecoder, "frames", side_effect=AssertionError)
    on_hot = mock.patch.object(run.RunMachine, "_on_hot", side_effect=AssertionError)
    with general, on_hot:
        events = fast.receive_data(set_frame(300, b"k" * 32, b"v" * 200))
    assert events == [ev.BlobStored(b"k" * 32, 200)]
    assert fast.data_to_send() == set_reply(300)
    assert blobs._blobs == {b"k" * 32: b"v" * 200}


def test_a_set_blob_with_a_field_we_lack_goes_to_the_decoder_and_is_reported() -> None:
    """Strictness: an extra field in the args is not read in place (its surprise counts)."""
    args = agent.SetBlobArgs(blob_id=b"k" * 32, blob_data=b"v")
    args.MergeFromString(b"\xf8\x07\x01")  # field 127 = 1
    message = agent.AgentServerMessage(
        kv_server_message=agent.KvServerMessage(id=1, set_blob_args=args)
    )
    fast, blobs, found = machine()
    events = fast.receive_data(encode_envelope(message.SerializeToString()))
    assert events == [ev.BlobStored(b"k" * 32, 1)]
    assert blobs._blobs == {b"k" * 32: b"v"}
    assert fast.data_to_send() == set_reply(1)
    assert [(s.where, s.what, s.number) for s in found] == [
        ("kv_server_message.set_blob_args", UNKNOWN_FIELD, 127)
    ]


def test_messages_no_hot_reader_takes_are_not_offered_to_it() -> None:
    """A checkpoint (first byte 0x1A) reaches the decoder without a `read_hot` call; the
    set_blob after it in the same chunk still takes the KV-set path (read in place)."""
    state = agent.ConversationStateStructure()
    state.token_details.used_tokens = 7
    checkpoint = agent.AgentServerMessage(conversation_checkpoint_update=state)
    stream = encode_envelope(checkpoint.SerializeToString()) + set_frame(2, b"k" * 32, b"v")
    fast, _, _ = machine()
    read = mock.patch.object(run, "read_hot", wraps=run.read_hot)
    read_at = mock.patch.object(run, "read_hot_at", wraps=run.read_hot_at)
    with read as whole, read_at as in_place:
        events = fast.receive_data(stream)
    assert [type(e) for e in events] == [ev.Checkpoint, ev.BlobStored]
    assert whole.call_count == 0
    assert in_place.call_count == 1  # the set_blob only
    assert fast.data_to_send() == set_reply(2)
