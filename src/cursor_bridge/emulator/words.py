"""The scripted model's streamed words, cheaply: encoded by hand, paced from one timer.

An answer streams as one `text_delta` (or `thinking_delta`) message per word, each followed
by `token_delta{tokens: 1}`, with `token_latency` seconds between words. Built as protobuf
objects and sent by a task that sleeps between words, every word of every Run costs two
message objects, two serialisations, two buffer writes, a timer and a task wake-up. Here a
word's frames are encoded once, by hand, byte for byte what protobuf serialises (pinned by
tests/emulator/test_emulator_words.py), and one `Pacer` per server writes the next word of
every Run that is due from a single timer: a Run's task sleeps once per stretch of words,
not once per word, and each stream keeps its own pace (a word goes out `token_latency` after
the previous one of the same stream, as the task's sleep did).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..protocol.messages import agent
from ..protocol.wire import len_field
from .connection import StreamGone
from .pacer import ENDED
from .run import RunEnded, RunSession

_UPDATE = agent.AgentServerMessage.DESCRIPTOR.fields_by_name["interaction_update"].number
_FIELDS = agent.InteractionUpdate.DESCRIPTOR.fields_by_name
_TEXT_DELTA = _FIELDS["text_delta"].number
_THINKING_DELTA = _FIELDS["thinking_delta"].number
_TOKEN_DELTA = _FIELDS["token_delta"].number
_TEXT = agent.TextDeltaUpdate.DESCRIPTOR.fields_by_name["text"].number
_THINKING_TEXT = agent.ThinkingDeltaUpdate.DESCRIPTOR.fields_by_name["text"].number
_TOKENS = agent.TokenDeltaUpdate.DESCRIPTOR.fields_by_name["tokens"].number
_TTFT = len_field(8, b"\x08\x0c")  # AgentServerMessage.ttft_breakdown (§10), outside the oneof

_YIELD_EVERY = 64  # unpaced: let other Runs and the client's frames in after this many words
_FRAMES_PER_WORD = 2  # the delta and its token_delta

# AgentServerMessage{interaction_update{token_delta{tokens: 1}}}
TOKEN_DELTA_ONE = len_field(_UPDATE, len_field(_TOKEN_DELTA, bytes((_TOKENS << 3, 1))))


def _update(member: int, text_field: int, text: str) -> bytes:
    """AgentServerMessage{interaction_update{<member>{text}}} (an empty text is absent)."""
    inner = len_field(text_field, text.encode()) if text else b""
    return len_field(_UPDATE, len_field(member, inner))


def text_delta(text: str, *, trace: bool = False) -> bytes:
    """AgentServerMessage{interaction_update{text_delta{text}}}, with `trace` plus the
    ttft_breakdown field a /trace turn adds."""
    payload = _update(_TEXT_DELTA, _TEXT, text)
    return payload + _TTFT if trace else payload


def thinking_delta(text: str) -> bytes:
    """AgentServerMessage{interaction_update{thinking_delta{text}}}."""
    return _update(_THINKING_DELTA, _THINKING_TEXT, text)


def traced_text_delta(text: str) -> bytes:
    """`text_delta` of a /trace turn."""
    return text_delta(text, trace=True)


Encode = Callable[[str], bytes]


class WordFrames:
    """Each word's frames (its delta, then `token_delta{1}`), encoded when asked for: a Run's
    first word goes out before its later ones are encoded (in a burst of Run starts, every
    Run's first word waits for that work of the others)."""

    __slots__ = ("_encode", "_frame", "_pieces", "_token")

    def __init__(self, session: RunSession, pieces: list[str], encode: Encode) -> None:
        self._pieces = pieces
        self._encode = encode
        self._frame = session.frame_bytes
        self._token = session.frame_bytes(TOKEN_DELTA_ONE)

    def __len__(self) -> int:
        return len(self._pieces)

    def __getitem__(self, index: int) -> bytes:
        return self._frame(self._encode(self._pieces[index])) + self._token


class WordSender:
    """Streams one turn's words: each word's delta and `token_delta{1}`, then a pause.

    Paced (`latency` > 0): the server's Pacer sends the words; the task wakes once per
    stretch. Unpaced: the words between two yields to the loop (every 64 words, as one
    word at a time did) go out in one write: the same bytes in the same order, since the
    connection sends a stream's queued bytes once per loop iteration anyway. A session
    that rewrites its updates (`plain_updates` off) gets every message through
    `send_update` (or `send_payload` for a /trace delta, which carries a field outside
    the update).
    """

    def __init__(self, session: RunSession, latency: float) -> None:
        self.session = session
        self.latency = latency
        self._since_yield = 0

    async def pause(self) -> None:
        """The pause after a word."""
        if self.latency > 0:
            await asyncio.sleep(self.latency)
            return
        self._since_yield += 1
        if self._since_yield >= _YIELD_EVERY:
            self._since_yield = 0
            await asyncio.sleep(0)

    async def send(self, pieces: list[str], encode: Encode, *, raw: bool = False) -> None:
        """Send each piece as the AgentServerMessage `encode` makes of it and a token delta
        after it, with a pause after every word but the last: the last word's pause is the
        caller's (`pause`), after a fault that may stand there. `raw`: the messages carry
        fields outside the update (only matters without `plain_updates`)."""
        if not pieces:
            return
        session = self.session
        if not session.plain_updates:
            await self._one_by_one(pieces, encode, raw=raw)
            return
        frames = WordFrames(session, pieces, encode)
        if self.latency > 0:
            await self._paced(frames)
        else:
            await self._unpaced(frames)

    async def _paced(self, frames: WordFrames) -> None:
        session = self.session
        pacer = session.env.pacer
        start = 0
        while True:
            start = await pacer.play(session, frames, start, _FRAMES_PER_WORD, self.latency)
            if start == ENDED:
                raise RunEnded
            if start >= len(frames):
                return
            # The send buffer is over its high-water mark: wait as a blocking write would.
            try:
                await session.stream.drain()
            except StreamGone:
                raise RunEnded from None
            await asyncio.sleep(self.latency)

    async def _unpaced(self, frames: WordFrames) -> None:
        count = len(frames)
        sent = 0
        while sent < count:
            take = min(count - sent, _YIELD_EVERY - self._since_yield)
            data = b"".join([frames[index] for index in range(sent, sent + take)])
            await self.session.send_framed(data, take * _FRAMES_PER_WORD)
            sent += take
            if sent < count:
                self._since_yield = 0
                await asyncio.sleep(0)
            else:
                self._since_yield += take - 1  # the last word's pause is the caller's

    async def _one_by_one(self, pieces: list[str], encode: Encode, *, raw: bool) -> None:
        session = self.session
        token = agent.InteractionUpdate(token_delta=agent.TokenDeltaUpdate(tokens=1))
        for index, piece in enumerate(pieces):
            if index:
                await self.pause()
            payload = encode(piece)
            if raw:
                await session.send_payload(payload)
            else:
                message = agent.AgentServerMessage.FromString(payload)
                await session.send_update(message.interaction_update)
            await session.send_update(token)
