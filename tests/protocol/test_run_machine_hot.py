"""RunMachine with the hot-message fast path against RunMachine without it: the same events,
replies, stored blobs and surprises, however the stream is cut into reads."""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol import run
from cursor_bridge.protocol.blobs import MemoryBlobStore
from cursor_bridge.protocol.errors import UpstreamProtocolError
from cursor_bridge.protocol.framing import (
    DEFAULT_MAX_FRAME_SIZE,
    encode_end_stream,
    encode_envelope,
)
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.surprises import Surprise, SurpriseWatch
from cursor_bridge.protocol.wire import field_bytes, len_field, only_field
from tests.support.general_path import general_path

STORED = b"s" * 32  # a blob the machines start with
MISSING = b"m" * 32


def frame(message: agent.AgentServerMessage, extra: bytes = b"") -> bytes:
    return encode_envelope(message.SerializeToString() + extra)


def kv(**fields: Any) -> agent.AgentServerMessage:
    return agent.AgentServerMessage(kv_server_message=agent.KvServerMessage(**fields))


def update(**fields: Any) -> agent.AgentServerMessage:
    return agent.AgentServerMessage(interaction_update=agent.InteractionUpdate(**fields))


@st.composite
def server_frames(draw: st.DrawFn) -> bytes:
    """One frame of a Run: hot messages (some with a field our schema lacks, which the
    surprise walk must still report), deltas and the rest."""
    kind = draw(
        st.sampled_from(
            [
                *("text", "tokens", "set", "get", "get_missing", "get_inline", "started"),
                *("completed", "ended", "checkpoint", "heartbeat"),
            ]
        )
    )
    number = draw(st.integers(0, 2**20))
    if kind == "text":
        message = update(text_delta=agent.TextDeltaUpdate(text=draw(st.text(max_size=30))))
    elif kind == "tokens":
        message = update(token_delta=agent.TokenDeltaUpdate(tokens=draw(st.integers(0, 200))))
    elif kind == "set":
        key = draw(st.binary(min_size=32, max_size=32))
        data = draw(st.one_of(st.binary(max_size=40), st.binary(min_size=100, max_size=300)))
        message = kv(id=number, set_blob_args=agent.SetBlobArgs(blob_id=key, blob_data=data))
    elif kind.startswith("get"):
        key = {"get": STORED, "get_missing": MISSING, "get_inline": b"inline content"}[kind]
        message = kv(id=number, get_blob_args=agent.GetBlobArgs(blob_id=key))
    elif kind == "started":
        message = update(step_started=agent.StepStartedUpdate(step_id=number))
    elif kind == "completed":
        completed = agent.StepCompletedUpdate(step_id=number, step_duration_ms=number * 3)
        message = update(step_completed=completed)
    elif kind == "ended":
        ended = agent.TurnEndedUpdate()
        if draw(st.booleans()):
            ended.input_tokens, ended.output_tokens = number, draw(st.integers(0, 500))
        message = update(turn_ended=ended)
    elif kind == "checkpoint":
        state = agent.ConversationStateStructure()
        state.token_details.used_tokens = number
        message = agent.AgentServerMessage(conversation_checkpoint_update=state)
    else:
        message = update(heartbeat=agent.HeartbeatUpdate())
    extra = b"\xf8\x07\x01" if draw(st.integers(0, 5)) == 0 else b""  # field 127 = 1
    return frame(message, extra)


def machine(
    merge: bool, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
) -> tuple[run.RunMachine, MemoryBlobStore, list[Surprise]]:
    blobs = MemoryBlobStore()
    blobs.put(STORED, b"stored data")
    found: list[Surprise] = []
    machine = run.RunMachine(
        blobs=blobs,
        request_context=agent.RequestContext(),
        max_frame_size=max_frame_size,
        surprises=SurpriseWatch(found.append),
    )
    machine.merge_deltas = merge
    machine.start(agent.AgentRunRequest())
    return machine, blobs, found


def feed(machine: run.RunMachine, chunk: bytes) -> object:
    """What `receive_data` returns, or the error it raises."""
    try:
        return seen(machine.receive_data(chunk))
    except UpstreamProtocolError as exc:
        return ("raised", str(exc))


def seen(events: list[ev.Event]) -> list[object]:
    """Events, comparable (a ConnectError is an exception: compared by identity)."""
    return [
        ("failed", e.error.code, e.error.message) if isinstance(e, ev.RunFailed) else e
        for e in events
    ]


@given(
    st.lists(server_frames(), min_size=1, max_size=12),
    st.booleans(),
    st.lists(st.integers(1, 400), max_size=30),
    st.booleans(),
    st.sampled_from([DEFAULT_MAX_FRAME_SIZE, 150, 130]),
)
@settings(max_examples=400, deadline=None)
def test_the_fast_path_changes_nothing_a_caller_sees(
    frames: list[bytes], end: bool, cuts: list[int], merge: bool, limit: int
) -> None:
    stream = b"".join(frames) + (encode_end_stream() if end else b"")
    fast, fast_blobs, fast_found = machine(merge, limit)
    slow, slow_blobs, slow_found = machine(merge, limit)
    pos = 0
    for cut in [*cuts, len(stream)]:
        chunk, pos = stream[pos : pos + cut], pos + cut
        events = feed(fast, chunk)
        with general_path():
            assert feed(slow, chunk) == events
        assert fast.data_to_send() == slow.data_to_send()
        if pos >= len(stream):
            break
    assert seen(fast.receive_eof()) == seen(slow.receive_eof())
    assert fast_found == slow_found
    assert fast_blobs._blobs == slow_blobs._blobs
    for name in ("state", "missing_blob", "used_tokens", "output_token_deltas"):
        assert getattr(fast, name) == getattr(slow, name)


def test_a_new_conversations_messages_take_the_fast_path() -> None:
    """What the emulator sends a new 1-word conversation is read without the decoder."""
    blob = kv(id=1, set_blob_args=agent.SetBlobArgs(blob_id=b"k" * 32, blob_data=b"x" * 150))
    frames = [
        frame(update(step_started=agent.StepStartedUpdate(step_id=1))),
        frame(update(text_delta=agent.TextDeltaUpdate(text="alpha"))),
        frame(update(token_delta=agent.TokenDeltaUpdate(tokens=1))),
        frame(update(step_completed=agent.StepCompletedUpdate(step_id=1))),
        frame(blob),
        frame(update(turn_ended=agent.TurnEndedUpdate(input_tokens=3, output_tokens=1))),
    ]
    fast, _, found = machine(True)
    decoded = mock.patch.object(run.RunMachine, "_handle", side_effect=AssertionError)
    framed = mock.patch.object(run.EnvelopeDecoder, "frames", side_effect=AssertionError)
    with decoded, framed:
        events = fast.receive_data(b"".join(frames))
    assert events == [
        ev.TextDelta("alpha"),
        ev.TokenDelta(1),
        ev.StepCompleted(1),
        ev.BlobStored(b"k" * 32, 150),
        ev.TurnEnded(ev.Usage(input_tokens=3, output_tokens=1)),
    ]
    assert found == []
    assert fast.data_to_send() == encode_envelope(
        agent.AgentClientMessage(
            kv_client_message=agent.KvClientMessage(id=1, set_blob_result=agent.SetBlobResult())
        ).SerializeToString()
    )


def test_words_never_merge_across_a_step_started() -> None:
    """A step_started makes no event, yet the words before it go out before the words
    after it, as the general path emits them (found by the property test above)."""
    frames = [
        frame(update(token_delta=agent.TokenDeltaUpdate(tokens=1))),
        frame(update(step_started=agent.StepStartedUpdate())),
        frame(update(text_delta=agent.TextDeltaUpdate(text="0"))),
    ]
    fast, _, _ = machine(True)
    assert fast.receive_data(b"".join(frames)) == [ev.TokenDelta(1), ev.TextDelta("0")]


def test_a_hot_frame_over_the_size_limit_is_refused() -> None:
    blob = kv(id=1, set_blob_args=agent.SetBlobArgs(blob_id=b"k" * 32, blob_data=b"x" * 150))
    fast, blobs, _ = machine(True, 150)
    assert feed(fast, frame(blob)) == ("raised", "frame of 195 bytes exceeds the 150-byte limit")
    assert len(blobs) == 1  # only the blob it started with


def test_the_run_request_frame_is_the_protobuf_encoding() -> None:
    """start() writes the AgentClientMessage around the request without building it."""
    request = agent.AgentRunRequest(conversation_id="c1")
    request.conversation_state.root_prompt_messages_json.append(b"k" * 32)
    request.MergeFromString(b"\xf8\x07\x01")  # a field our schema lacks rides along
    machine = run.RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    expected = agent.AgentClientMessage(run_request=request).SerializeToString()
    assert machine.start(request) == encode_envelope(expected)


@given(st.binary(max_size=40), st.binary(max_size=300))
@settings(deadline=None)
def test_a_lone_checkpoint_field_is_read_as_field_bytes_reads_it(
    before: bytes, state: bytes
) -> None:
    for payload in (
        len_field(3, state),
        before + len_field(3, state),
        len_field(3, state) + before,
    ):
        only = only_field(payload, 0x1A)
        if only is not None:
            assert only == field_bytes(payload, 3)
    assert only_field(len_field(3, state), 0x1A) == state
