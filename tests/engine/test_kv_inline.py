"""KV requests are answered in the receive callback, without waking the Run's reader."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from cursor_bridge.emulator import EmulatorServer
from cursor_bridge.engine.upstream import UpstreamRun
from cursor_bridge.protocol import events as ev
from cursor_bridge.protocol.blobs import MemoryBlobStore, blob_id
from cursor_bridge.protocol.errors import ConnectError
from cursor_bridge.protocol.framing import EnvelopeDecoder, encode_end_stream, encode_envelope
from cursor_bridge.protocol.headers import RUN_PATH, ClientIdentity, run_headers
from cursor_bridge.protocol.messages import agent
from cursor_bridge.protocol.run import RunMachine
from cursor_bridge.transport import BackendPool, TransportError


def _server(**fields: object) -> bytes:
    return encode_envelope(agent.AgentServerMessage(**fields).SerializeToString())  # type: ignore[arg-type]


def _set_blob(kv_id: int, data: bytes) -> bytes:
    args = agent.SetBlobArgs(blob_id=blob_id(data), blob_data=data)
    return _server(kv_server_message=agent.KvServerMessage(id=kv_id, set_blob_args=args))


def _text(text: str) -> bytes:
    update = agent.InteractionUpdate(text_delta=agent.TextDeltaUpdate(text=text))
    return _server(interaction_update=update)


def _kv_answer_ids(data: bytes) -> list[int]:
    ids = []
    for envelope in EnvelopeDecoder().feed(data):
        message = agent.AgentClientMessage()
        message.ParseFromString(envelope.payload)
        if message.WhichOneof("message") == "kv_client_message":
            ids.append(message.kv_client_message.id)
    return ids


class FakeStream:
    """The DuplexStream surface UpstreamRun uses, driven by the test."""

    def __init__(self) -> None:
        self.sent_now: list[bytes] = []
        self.sent: list[bytes] = []
        self.consumer: Callable[[bytes], bool] | None = None
        self.window = 1 << 20
        self.direct = False
        self.trailers: list[tuple[str, str]] | None = None
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.headers = asyncio.get_running_loop().create_future()
        self.ended = False
        self.cancelled = False

    async def response_headers(self) -> tuple[int, list[tuple[str, str]]]:
        await self.headers
        return 200, []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    def can_send_now(self, size: int) -> bool:
        return size <= self.window

    def send_now(self, data: bytes) -> None:
        self.sent_now.append(data)

    def try_send_now(self, data: bytes | bytearray) -> bool:
        """DuplexStream's one-call way, taken only when a test sets `direct` (otherwise the
        Run takes the two steps, `can_send_now` and `send_now`)."""
        if not self.direct or len(data) > self.window:
            return False
        self.sent_now.append(bytes(data))  # (a copy, as the connection's buffer takes)
        return True

    def consume_inline(self, consumer: Callable[[bytes], bool] | None) -> None:
        self.consumer = consumer

    def arrive(self, data: bytes) -> bool:
        """Deliver `data` as the connection would: in place if a consumer is set."""
        if self.consumer is not None and self._inbox.empty():
            if self.consumer(data):
                self._inbox.put_nowait(b"")
            return True
        self._inbox.put_nowait(data)
        return False

    async def receive(self, idle_timeout: float | None = None) -> bytes | None:
        return await self._inbox.get()

    async def end(self) -> None:
        self.ended = True

    async def cancel(self) -> None:
        self.cancelled = True


async def _started() -> tuple[UpstreamRun, FakeStream, asyncio.Task[list[list[ev.Event]]]]:
    stream = FakeStream()
    # The run_request goes the waiting way (`send`, with no room in the window): the tests
    # below count it there. (With room it goes at once: see the test after this helper.)
    stream.window = 0
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    run = UpstreamRun(stream, machine, agent.AgentRunRequest())  # type: ignore[arg-type]

    async def collect() -> list[list[ev.Event]]:
        return [batch async for batch in run.batches()]

    task = asyncio.create_task(collect())
    stream.headers.set_result(None)
    deadline = time.monotonic() + 5
    while stream.consumer is None and time.monotonic() < deadline:  # noqa: ASYNC110 - polled with a deadline
        await asyncio.sleep(0)
    assert stream.consumer is not None
    stream.window = 1 << 20
    return run, stream, task


@pytest.mark.parametrize("way", ["at_once", "window_full", "send_in_progress"])
async def test_the_run_request_goes_out_at_once_when_it_can_as_the_waiting_way_sends_it(
    way: str,
) -> None:
    """The first frame's bytes are the same either way; only with room in the window and
    no other send in progress do they skip the waiting way (`send`)."""
    sent: list[tuple[list[bytes], list[bytes]]] = []
    for how in (way, "window_full"):
        stream = FakeStream()
        stream.window = 0 if how == "window_full" else 1 << 20
        machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
        request = agent.AgentRunRequest(conversation_id="c", run_id="r")
        request.action.user_message_action.user_message.text = "hello"
        run = UpstreamRun(stream, machine, request)  # type: ignore[arg-type]
        if how == "send_in_progress":
            await run._send_lock.acquire()
        task = asyncio.create_task(anext(run.batches()))
        stream.headers.set_result(None)
        if how == "send_in_progress":
            for _ in range(5):
                await asyncio.sleep(0)
            assert stream.sent == stream.sent_now == []  # waits for the other send
            run._send_lock.release()
        deadline = time.monotonic() + 5
        while stream.consumer is None and time.monotonic() < deadline:  # noqa: ASYNC110 - polled with a deadline
            await asyncio.sleep(0)
        sent.append((stream.sent_now[:], stream.sent[:]))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (now, waited), (_, reference) = sent
    assert len(reference) == 1 and reference[0]
    if way == "at_once":
        assert now == reference and waited == []
    else:
        assert now == [] and waited == reference


async def test_kv_answers_go_out_in_the_callback_and_the_events_follow_later() -> None:
    run, stream, task = await _started()
    assert stream.arrive(_set_blob(1, b"one"))
    assert stream.arrive(_set_blob(2, b"two"))
    # Both answered at once, in order, without the reader running in between.
    assert [_kv_answer_ids(data) for data in stream.sent_now] == [[1], [2]]
    assert run.machine.blobs.get(blob_id(b"two")) == b"two"
    assert stream.consumer is not None  # nothing needed the reader
    assert stream.arrive(_text("hi"))  # model output: the reader must wake
    assert stream.consumer is None
    turn_ended = agent.InteractionUpdate(turn_ended=agent.TurnEndedUpdate())
    # Buffered behind the reader, not read in place.
    assert not stream.arrive(_server(interaction_update=turn_ended) + encode_end_stream())
    batches = await asyncio.wait_for(task, 5)
    events = [event for batch in batches for event in batch]
    assert events[:3] == [
        ev.BlobStored(blob_id(b"one"), 3),
        ev.BlobStored(blob_id(b"two"), 3),
        ev.TextDelta("hi"),
    ]
    assert isinstance(events[-1], ev.StreamClosed)
    # Only the run_request went through the reader's send path.
    assert len(stream.sent) == 1


async def test_an_answer_sent_in_one_call_is_the_same_answer() -> None:
    """The one-call way (`try_send_now`): the same answers in the same order, each sent
    once, and nothing left owed; where it declines, the two steps send it."""
    run, stream, task = await _started()
    stream.direct = True
    assert stream.arrive(_set_blob(1, b"one"))
    assert stream.arrive(_set_blob(2, b"two"))
    assert [_kv_answer_ids(data) for data in stream.sent_now] == [[1], [2]]
    assert not run.machine.owes_data
    stream.direct = False
    assert stream.arrive(_set_blob(3, b"three"))
    assert [_kv_answer_ids(data) for data in stream.sent_now] == [[1], [2], [3]]
    assert len(stream.sent) == 1 and stream.consumer is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_answer_that_cannot_go_at_once_is_sent_by_the_reader_in_order() -> None:
    run, stream, task = await _started()
    await run._send_lock.acquire()  # another send in progress (a heartbeat, say)
    assert stream.arrive(_set_blob(5, b"five"))
    assert stream.sent_now == []
    assert stream.consumer is None  # the reader was woken
    stream.window = 0  # and once it caught up, a full window also defers to it
    run._send_lock.release()
    deadline = time.monotonic() + 5
    while stream.consumer is None and time.monotonic() < deadline:  # noqa: ASYNC110 - polled with a deadline
        await asyncio.sleep(0)
    assert [_kv_answer_ids(data) for data in stream.sent[1:]] == [[5]]
    stream.arrive(_set_blob(6, b"six"))
    deadline = time.monotonic() + 5
    while len(stream.sent) < 3 and time.monotonic() < deadline:  # noqa: ASYNC110 - polled with a deadline
        await asyncio.sleep(0)
    assert [_kv_answer_ids(data) for data in stream.sent[1:]] == [[5], [6]]
    assert stream.sent_now == []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _turn_end() -> bytes:
    turn_ended = agent.InteractionUpdate(turn_ended=agent.TurnEndedUpdate())
    return _server(interaction_update=turn_ended) + encode_end_stream()


async def _until(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not done() and time.monotonic() < deadline:  # noqa: ASYNC110 - polled with a deadline
        await asyncio.sleep(0)
    assert done()


async def test_kv_events_read_in_place_lead_the_batch_that_ends_the_turn() -> None:
    run, stream, task = await _started()
    assert stream.arrive(_set_blob(1, b"one"))
    assert stream.arrive(_set_blob(2, b"two"))
    assert stream.arrive(_turn_end())  # the end wakes the reader, with the KV ahead of it
    batches = await asyncio.wait_for(task, 5)
    assert [[type(event) for event in batch] for batch in batches] == [
        [ev.BlobStored, ev.BlobStored, ev.TurnEnded, ev.StreamClosed]
    ]
    assert batches[0][:2] == [ev.BlobStored(blob_id(b"one"), 3), ev.BlobStored(blob_id(b"two"), 3)]
    assert run.half_closed and stream.ended and run.finished
    assert not stream.cancelled  # a Run that finished is not cancelled


async def test_a_run_failing_after_kv_read_in_place_hands_those_events_over_first() -> None:
    stream = FakeStream()
    machine = RunMachine(blobs=MemoryBlobStore(), request_context=agent.RequestContext())
    run = UpstreamRun(stream, machine, agent.AgentRunRequest())  # type: ignore[arg-type]
    batches = run.batches()
    first = asyncio.ensure_future(anext(batches))
    stream.headers.set_result(None)
    await _until(lambda: stream.consumer is not None)
    assert stream.arrive(_set_blob(1, b"one"))
    assert stream.arrive(encode_end_stream(ConnectError("resource_exhausted", "slow down")))
    assert await asyncio.wait_for(first, 5) == [ev.BlobStored(blob_id(b"one"), 3)]
    with pytest.raises(ConnectError) as caught:
        await asyncio.wait_for(anext(batches), 5)
    assert caught.value.code == "resource_exhausted"
    assert run.finished and stream.cancelled  # the stream was still open: stopped upstream


async def test_the_reader_reads_in_place_again_after_waking_for_output() -> None:
    _, stream, task = await _started()
    assert stream.arrive(_set_blob(1, b"one"))
    assert stream.arrive(_text("hi"))
    assert stream.consumer is None  # woken for the text
    await _until(lambda: stream.consumer is not None)  # and back to reading in place
    assert stream.arrive(_set_blob(2, b"two"))
    assert [_kv_answer_ids(data) for data in stream.sent_now] == [[1], [2]]
    assert stream.arrive(_turn_end())
    events = [event for batch in await asyncio.wait_for(task, 5) for event in batch]
    assert events[:3] == [
        ev.BlobStored(blob_id(b"one"), 3),
        ev.TextDelta("hi"),
        ev.BlobStored(blob_id(b"two"), 3),
    ]
    assert stream.consumer is None


async def test_closing_a_run_stops_reading_in_place_and_cancels_it() -> None:
    run, stream, task = await _started()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.consumer is None and stream.cancelled and run.finished
    await run.aclose()  # again (its owner closes it too): nothing left to do
    assert stream.consumer is None


async def test_owed_bytes_the_reader_finds_go_out_at_once_when_nothing_else_is_sending() -> None:
    run, stream, task = await _started()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run.half_closed = False  # a unit test of flush: the Run's state as while it is read
    run.machine.receive_data(_set_blob(1, b"one"))
    await run.flush()
    assert [_kv_answer_ids(data) for data in stream.sent_now] == [[1]]
    assert len(stream.sent) == 1  # only the run_request went the waiting way
    # Another send in progress: the answer waits for it, in order.
    await run._send_lock.acquire()
    run.machine.receive_data(_set_blob(2, b"two"))
    flushing = asyncio.ensure_future(run.flush())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not flushing.done() and len(stream.sent_now) == 1
    run._send_lock.release()
    await asyncio.wait_for(flushing, 5)
    assert [_kv_answer_ids(data) for data in stream.sent[1:]] == [[2]]
    # No room in the window: the waiting way too.
    stream.window = 0
    run.machine.receive_data(_set_blob(3, b"three"))
    await run.flush()
    assert [_kv_answer_ids(data) for data in stream.sent[1:]] == [[2], [3]]
    assert len(stream.sent_now) == 1
    await run.flush()  # nothing owed: nothing sent
    assert len(stream.sent) == 3 and len(stream.sent_now) == 1


async def test_a_stream_error_while_flushing_at_once_is_unavailable() -> None:
    run, stream, task = await _started()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run.half_closed = False

    def refuse(data: bytes) -> None:
        raise TransportError("stream 1: cannot send: closed")

    stream.send_now = refuse  # type: ignore[method-assign]
    run.machine.receive_data(_set_blob(1, b"one"))
    with pytest.raises(ConnectError) as caught:
        await run.flush()
    assert caught.value.code == "unavailable"


async def test_broken_framing_read_in_place_fails_the_run_in_the_reader() -> None:
    _, stream, task = await _started()
    stream.arrive(_set_blob(1, b"one"))
    # An envelope with an unknown flag bit: the machine raises in the socket callback.
    assert stream.arrive(b"\x40\x00\x00\x00\x00")
    assert stream.consumer is None
    with pytest.raises(ConnectError) as caught:
        await asyncio.wait_for(task, 5)
    assert caught.value.code == "internal"
    assert "broke the protocol" in str(caught.value)


async def test_a_stream_error_while_sending_in_place_fails_the_run() -> None:
    _, stream, task = await _started()

    def refuse(data: bytes) -> None:
        raise TransportError("stream 1: cannot send: closed")

    stream.send_now = refuse  # type: ignore[method-assign]
    assert stream.arrive(_set_blob(1, b"one"))
    with pytest.raises(ConnectError) as caught:
        await asyncio.wait_for(task, 5)
    assert caught.value.code == "unavailable"


async def test_a_new_conversation_answers_its_kv_requests_without_the_reader() -> None:
    async with EmulatorServer() as emulator, BackendPool() as pool:
        headers = run_headers(None, ClientIdentity(), now_ms=int(time.time() * 1000))
        stream = await pool.open_stream(emulator.url + RUN_PATH, headers)
        store = MemoryBlobStore()
        machine = RunMachine(blobs=store, request_context=agent.RequestContext())
        user = agent.UserMessage(text="/reply hello", message_id="m-1")
        request = agent.AgentRunRequest(
            action=agent.ConversationAction(
                user_message_action=agent.UserMessageAction(
                    user_message=user, request_context=agent.RequestContext()
                )
            ),
            conversation_id="c-kv",
            requested_model=agent.RequestedModel(model_id="claude-4.6-sonnet"),
        )
        run = UpstreamRun(stream, machine, request)
        in_place = 0
        read_inline = run._read_inline

        def counting(chunk: bytes) -> bool:
            nonlocal in_place
            woke = read_inline(chunk)
            in_place += not woke
            return woke

        run._read_inline = counting  # type: ignore[method-assign]
        events = [e async for batch in run.batches() for e in batch]
        assert isinstance(events[-1], ev.StreamClosed)
        stored = [e for e in events if isinstance(e, ev.BlobStored)]
        assert len(stored) == emulator.counters.blobs_set > 0
        assert all(store.get(e.blob_id) is not None for e in stored)
        assert in_place > 0  # at least one KV round trip never woke the reader
        assert "".join(e.text for e in events if isinstance(e, ev.TextDelta)) == "hello"
