"""The client side of a Run for the emulator tests: `TurnDriver` answers KV, request_context and
exec requests like a real client and records every server message in a `Transcript`."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h2.exceptions
from emulator_client import END, ClientStream, H2Client, run_headers
from google.protobuf.message import DecodeError

from cursor_bridge.protocol.errors import UpstreamProtocolError
from cursor_bridge.protocol.framing import (
    EndStream,
    EnvelopeDecoder,
    encode_envelope,
    parse_end_stream,
)
from cursor_bridge.protocol.messages import agent

# -- the client side of a Run --------------------------------------------------------------


def blob_id(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def kind_of(message: agent.AgentServerMessage) -> str:
    """A short name for a server message: "kv.get", "exec.mcp_args", "update.text_delta"..."""
    which = message.WhichOneof("message")
    if which == "interaction_update":
        return f"update.{message.interaction_update.WhichOneof('message')}"
    if which == "kv_server_message":
        kv = message.kv_server_message.WhichOneof("message")
        return "kv.get" if kv == "get_blob_args" else "kv.set"
    if which == "exec_server_message":
        return f"exec.{message.exec_server_message.WhichOneof('message')}"
    if which == "conversation_checkpoint_update":
        return "checkpoint"
    if which == "exec_server_control_message":
        return "exec_control"
    return str(which)


@dataclass
class Transcript:
    messages: list[agent.AgentServerMessage] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    end: EndStream | None = None
    reset_code: int | None = None
    protocol_error: str | None = None
    status: int = 0
    stored: dict[bytes, bytes] = field(default_factory=dict)
    gets: list[bytes] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(
            m.interaction_update.text_delta.text
            for m in self.messages
            if kind_of(m) == "update.text_delta"
        )

    @property
    def thinking(self) -> str:
        return "".join(
            m.interaction_update.thinking_delta.text
            for m in self.messages
            if kind_of(m) == "update.thinking_delta"
        )

    @property
    def checkpoint(self) -> agent.ConversationStateStructure | None:
        found = [
            m.conversation_checkpoint_update for m in self.messages if kind_of(m) == "checkpoint"
        ]
        return found[-1] if found else None

    @property
    def turn_ended(self) -> agent.TurnEndedUpdate | None:
        found = [
            m.interaction_update.turn_ended
            for m in self.messages
            if kind_of(m) == "update.turn_ended"
        ]
        return found[-1] if found else None

    def without_heartbeats(self) -> list[str]:
        return [k for k in self.kinds if k != "update.heartbeat"]


ExecAnswer = Callable[[agent.ExecServerMessage], list[agent.AgentClientMessage]]


def mcp_text_answer(text: str) -> ExecAnswer:
    """Answer every mcp_args exec with `text` (plus the `stream_close` the CLI sends)."""

    def answer(request: agent.ExecServerMessage) -> list[agent.AgentClientMessage]:
        result = agent.McpResult(
            success=agent.McpSuccess(
                content=[agent.McpToolResultContentItem(text=agent.McpTextContent(text=text))]
            )
        )
        return [
            agent.AgentClientMessage(
                exec_client_message=agent.ExecClientMessage(
                    id=request.id, exec_id=request.exec_id, mcp_result=result
                )
            ),
            stream_close(request.id),
        ]

    return answer


def stream_close(exec_id: int) -> agent.AgentClientMessage:
    return agent.AgentClientMessage(
        exec_client_control_message=agent.ExecClientControlMessage(
            stream_close=agent.ExecClientStreamClose(id=exec_id)
        )
    )


class TurnDriver:
    """Plays the client side of one Run and records what the server sent.

    KV gets are answered from `store` (content-as-id ids are echoed), sets are stored and
    acknowledged; request_context is answered with `context` (then stream_close); other execs
    go to `on_exec`. It stops at the end of the response (end-stream frame, END_STREAM or
    reset) or at a frame it cannot decode (then it resets the stream).
    """

    def __init__(
        self,
        client: H2Client,
        *,
        store: dict[bytes, bytes] | None = None,
        context: agent.RequestContext | None = None,
        on_exec: ExecAnswer | None = None,
        withhold: set[bytes] | None = None,
        close_after_turn: bool = True,
        headers: list[tuple[str, str]] | None = None,
        on_message: Callable[[agent.AgentServerMessage, TurnDriver], Any] | None = None,
        reject_context: bool = False,
    ) -> None:
        self.reject_context = reject_context
        self.client = client
        self.store = store if store is not None else {}
        self.context = context if context is not None else agent.RequestContext()
        self.on_exec = on_exec
        self.withhold = withhold or set()
        self.close_after_turn = close_after_turn
        self.headers = headers if headers is not None else run_headers()
        self.on_message = on_message
        self.transcript = Transcript(stored=self.store)
        self.stream: ClientStream | None = None
        self.stopped = False

    def cancel(self) -> None:
        """RST_STREAM (CANCEL) and stop reading."""
        assert self.stream is not None
        self.stream.reset()
        self.stopped = True

    async def send(self, message: agent.AgentClientMessage) -> None:
        assert self.stream is not None
        if self.stream.ended or self.stream.local_ended:
            return
        with contextlib.suppress(h2.exceptions.StreamClosedError):
            await self.stream.send(encode_envelope(message.SerializeToString()))

    async def run(self, request: agent.AgentRunRequest) -> Transcript:
        self.stream = await self.client.open("/agent.v1.AgentService/Run", self.headers, end=False)
        await self.send(agent.AgentClientMessage(run_request=request))
        return await self.read()

    async def read(self) -> Transcript:
        assert self.stream is not None
        stream, transcript = self.stream, self.transcript
        decoder = EnvelopeDecoder()
        try:
            transcript.status = await stream.status()
        except ConnectionError:
            return transcript
        while True:
            item = await stream.chunks.get()
            if item is END:
                transcript.reset_code = stream.reset_code
                return transcript
            assert isinstance(item, bytes)
            try:
                envelopes = decoder.feed(item)
            except UpstreamProtocolError as exc:
                transcript.protocol_error = str(exc)
                stream.reset()
                return transcript
            for envelope in envelopes:
                if envelope.end_stream:
                    transcript.end = parse_end_stream(envelope.payload)
                    continue
                message = agent.AgentServerMessage()
                try:
                    message.ParseFromString(envelope.payload)
                except DecodeError:
                    transcript.protocol_error = "undecodable AgentServerMessage"
                    stream.reset()
                    return transcript
                transcript.messages.append(message)
                transcript.kinds.append(kind_of(message))
                await self._answer(message)
                if self.on_message is not None:
                    await self.on_message(message, self)
                if self.stopped:
                    return transcript

    async def _answer(self, message: agent.AgentServerMessage) -> None:
        which = message.WhichOneof("message")
        if which == "kv_server_message":
            kv = message.kv_server_message
            if kv.WhichOneof("message") == "get_blob_args":
                key = kv.get_blob_args.blob_id
                self.transcript.gets.append(key)
                result = agent.GetBlobResult()
                data = self.store.get(key)
                if data is None and len(key) != 32:
                    data = key  # content-as-id: echo
                if data is not None and key not in self.withhold:
                    result.blob_data = data
                reply = agent.KvClientMessage(id=kv.id, get_blob_result=result)
            else:
                self.store[kv.set_blob_args.blob_id] = kv.set_blob_args.blob_data
                reply = agent.KvClientMessage(id=kv.id, set_blob_result=agent.SetBlobResult())
            await self.send(agent.AgentClientMessage(kv_client_message=reply))
        elif which == "exec_server_message":
            request = message.exec_server_message
            if request.WhichOneof("message") == "request_context_args":
                answer = agent.RequestContextResult(
                    success=agent.RequestContextSuccess(request_context=self.context)
                )
                if self.reject_context:
                    answer = agent.RequestContextResult(
                        rejected=agent.RequestContextRejected(reason="not here")
                    )
                await self.send(
                    agent.AgentClientMessage(
                        exec_client_message=agent.ExecClientMessage(
                            id=request.id, exec_id=request.exec_id, request_context_result=answer
                        )
                    )
                )
                await self.send(stream_close(request.id))
            elif self.on_exec is not None:
                for reply_message in self.on_exec(request):
                    await self.send(reply_message)
        elif which == "interaction_update" and self.close_after_turn:
            ended = message.interaction_update.WhichOneof("message") == "turn_ended"
            if ended and self.stream is not None:
                await self.stream.end()


def user_request(
    text: str,
    *,
    model: str = "claude-4.6-sonnet",
    state: agent.ConversationStateStructure | None = None,
    request_context: agent.RequestContext | None = None,
) -> agent.AgentRunRequest:
    action = agent.UserMessageAction(user_message=agent.UserMessage(text=text, message_id="m-1"))
    if request_context is not None:
        action.request_context.CopyFrom(request_context)
    request = agent.AgentRunRequest(
        action=agent.ConversationAction(user_message_action=action),
        conversation_id="c-1",
        requested_model=agent.RequestedModel(model_id=model),
    )
    if state is not None:
        request.conversation_state.CopyFrom(state)
    return request


def seed_state(
    messages: list[dict[str, Any]], turns: list[tuple[str, str]]
) -> tuple[agent.ConversationStateStructure, dict[bytes, bytes]]:
    """A seeded conversation (root prompt JSON messages + user/assistant turns) and its blobs."""
    store: dict[bytes, bytes] = {}

    def put(data: bytes) -> bytes:
        key = blob_id(data)
        store[key] = data
        return key

    state = agent.ConversationStateStructure()
    for message in messages:
        state.root_prompt_messages_json.append(put(json.dumps(message).encode()))
    for user_text, assistant_text in turns:
        user_key = put(agent.UserMessage(text=user_text, message_id="u").SerializeToString())
        step = agent.ConversationStep(assistant_message=agent.AssistantMessage(text=assistant_text))
        step_key = put(step.SerializeToString())
        turn = agent.ConversationTurnStructure(
            agent_conversation_turn=agent.AgentConversationTurnStructure(
                user_message=user_key, steps=[step_key]
            )
        )
        state.turns.append(put(turn.SerializeToString()))
    return state, store
