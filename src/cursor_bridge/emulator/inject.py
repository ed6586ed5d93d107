"""Protocol surprises on demand (`EmulatorOptions.inject`, `cursor-bridge emulator --inject`):
what a backend newer than our schema, or one that lost state, would send.

- `unknown-field`: the first text delta of each answer carries field 4242, a number no
  schema of ours declares (a newer backend adding a field the bridge does not know).
- `unknown-query`: before the answer, an `interaction_query` whose kind is field 99 (a query
  kind newer than our schema). The Run does not wait for the reply.
- `end-early`: a clean end-stream `{}` right after the first text delta, before turn_ended.
- `missing-blob`: first of all, a `get_blob` for a 32-byte id no client ever stored. The
  client has no such blob: if it answers without data, the Run ends with `internal: Blob not
  found`, as the service ends it; if it does not answer, the Run waits until it gives up.

Each applies to every Run of the emulator. The rest of the turn is the scripted model's.
"""

from __future__ import annotations

import hashlib

from ..protocol.messages import agent
from ..protocol.wire import encode_varint
from .connection import ServerStream
from .run import PlayFn, RunEnvironment, RunSession

INJECTIONS = ("unknown-field", "unknown-query", "end-early", "missing-blob")
UNKNOWN_FIELD_NUMBER = 4242
UNKNOWN_QUERY_NUMBER = 99
_NEVER_STORED = hashlib.sha256(b"cursor-bridge emulator: a blob nobody stored").digest()
_QUERY_ID = 9001


def _with_unknown(message_bytes: bytes, number: int, wire_payload: bytes) -> bytes:
    """*message_bytes* plus one length-delimited field *number* (unknown to our schema)."""
    tag = encode_varint(number << 3 | 2)
    return message_bytes + tag + encode_varint(len(wire_payload)) + wire_payload


class InjectingSession(RunSession):
    """A RunSession whose outgoing updates carry the injected surprises."""

    plain_updates = False

    def __init__(
        self,
        stream: ServerStream,
        env: RunEnvironment,
        play: PlayFn,
        *,
        compress: bool,
        inject: tuple[str, ...],
    ) -> None:
        self.inject = inject
        self._began = False
        self._texts = 0
        super().__init__(stream, env, play, compress=compress)

    async def send_update(self, update: agent.InteractionUpdate) -> None:
        if not self._began:
            self._began = True
            await self._before_first_update()
        if update.WhichOneof("message") != "text_delta":
            await super().send_update(update)
            return
        self._texts += 1
        if self._texts == 1 and "unknown-field" in self.inject:
            delta = agent.TextDeltaUpdate()
            delta.ParseFromString(
                update.text_delta.SerializeToString()
                + encode_varint(UNKNOWN_FIELD_NUMBER << 3)
                + encode_varint(1)
            )
            update = agent.InteractionUpdate(text_delta=delta)
        await super().send_update(update)
        if self._texts == 1 and "end-early" in self.inject:
            self.end_early()

    async def _before_first_update(self) -> None:
        if "missing-blob" in self.inject:
            await self.get_blobs([_NEVER_STORED])  # ends the Run: the client has no such blob
        if "unknown-query" in self.inject:
            query = agent.InteractionQuery()
            query.ParseFromString(
                _with_unknown(
                    agent.InteractionQuery(id=_QUERY_ID).SerializeToString(),
                    UNKNOWN_QUERY_NUMBER,
                    b"",
                )
            )
            await self.send(agent.AgentServerMessage(interaction_query=query))
