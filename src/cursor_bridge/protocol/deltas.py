"""The Run's hottest messages read straight from their bytes, and the deltas that arrive
together merged into one.

Most of what a Run receives is `interaction_update.text_delta{text}` followed by
`interaction_update.token_delta{tokens}`: two messages per word. Decoding each into protobuf
objects and an event costs far more than the word is worth, so `read_delta` recognises the
exact wire shape of these two (AgentServerMessage field 1 -> InteractionUpdate field 1 or 8
-> field 1) and returns the text or the count; anything else, including the same messages
with any extra field, is left to the full decoder (None). `Deltas` collects what one read
brought so the RunMachine emits one TextDelta and one TokenDelta per batch of words; its
`skim` reads the usual small ones straight out of the received chunk, frame headers and
all, so a word costs no Envelope, no payload copy and no function call of its own.
Pure functions over bytes, no I/O.
"""

from __future__ import annotations

from . import events as ev
from .framing import SKIM_MAX_PAYLOAD
from .wire import short_varint

# Tags (field number << 3 | wire type): LEN fields are wire type 2, varints 0.
_UPDATE = 0x0A  # AgentServerMessage.interaction_update (1, LEN)
_TEXT = 0x0A  # InteractionUpdate.text_delta (1, LEN)
_TOKENS = 0x42  # InteractionUpdate.token_delta (8, LEN)
_TEXT_FIELD = 0x0A  # TextDeltaUpdate.text (1, LEN)
_TOKENS_FIELD = 0x08  # TokenDeltaUpdate.tokens (1, varint int32)


def read_delta(payload: bytes) -> str | int | None:
    """The text of a text_delta, the count of a token_delta, or None for anything else.

    Only a payload made of exactly those nested fields, each once, qualifies; an empty
    text or a zero count (fields left out on the wire) qualify too.
    """
    if len(payload) < 2 or payload[0] != _UPDATE:
        return None
    size, pos = short_varint(payload, 1)
    if size < 0 or pos + size != len(payload) or size < 2:
        return None
    kind = payload[pos]
    inner, pos = short_varint(payload, pos + 1)
    if inner < 0 or pos + inner != len(payload):
        return None
    if kind == _TEXT:
        if inner == 0:
            return ""
        if payload[pos] != _TEXT_FIELD:
            return None
        length, start = short_varint(payload, pos + 1)
        if length < 0 or start + length != len(payload):
            return None
        try:
            return payload[start:].decode()
        except UnicodeDecodeError:
            return None  # the full decoder reports it
    if kind == _TOKENS:
        if inner == 0:
            return 0
        if payload[pos] != _TOKENS_FIELD:
            return None
        value, end = short_varint(payload, pos + 1)
        if value < 0 or end != len(payload):
            return None
        return value
    return None


# Whole frames as `skim` matches them: 5 bytes of envelope header (flags 0, length), then the
# nested tags and one-byte lengths down to the value.
_TOKEN_HEAD = bytes((0, 0, 0, 0, 6, _UPDATE, 4, _TOKENS, 2, _TOKENS_FIELD))
_TOKEN_FRAME = len(_TOKEN_HEAD) + 1  # and the count, one byte
_TEXT_HEAD_SIZE = 11
_TEXT_HEADS = {
    size: bytes((0, 0, 0, 0, size, _UPDATE, size - 2, _TEXT, size - 4, _TEXT_FIELD, size - 6))
    for size in range(7, SKIM_MAX_PAYLOAD + 1)
}
"""By payload size: the header of a frame holding a text_delta of `size - 6` bytes (1+)."""


class Deltas:
    """Text and token counts read in one go, not yet emitted as events."""

    __slots__ = ("text", "tokens")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tokens = 0

    def add(self, delta: str | int) -> None:
        if isinstance(delta, str):
            if delta:
                self.text.append(delta)
        else:
            self.tokens += delta

    def skim(self, data: bytes, pos: int, end: int) -> int:
        """Consume the plain frames of a non-empty text_delta or a token_delta of 1-127
        from `data[pos:end]` whose payload is under 128 bytes, up to the first frame that
        is anything else; returns the position after them (a `framing.Skimmer`). Each is
        recognised by its whole header, compared at once (see `_TEXT_HEADS`); what it
        takes, `read_delta` would read the same, and what it leaves goes there."""
        text = self.text
        tokens = 0
        while end - pos >= _TOKEN_FRAME:
            if data.startswith(_TOKEN_HEAD, pos):
                count = data[pos + _TOKEN_FRAME - 1]
                if count > 0x7F:
                    break
                tokens += count
                pos += _TOKEN_FRAME
                continue
            head = _TEXT_HEADS.get(data[pos + 4])
            if head is None or not data.startswith(head, pos):
                break
            stop = pos + 5 + data[pos + 4]
            if stop > end:
                break
            try:
                text.append(data[pos + _TEXT_HEAD_SIZE : stop].decode())
            except UnicodeDecodeError:
                break  # the full decoder reports it
            pos = stop
        self.tokens += tokens
        return pos

    def flush(self, out: list[ev.Event]) -> int:
        """Append the merged TextDelta and TokenDelta (if any) to *out*; returns the
        tokens emitted."""
        tokens = self.tokens
        if self.text:
            out.append(ev.TextDelta(self.text[0] if len(self.text) == 1 else "".join(self.text)))
            self.text = []
        if tokens:
            out.append(ev.TokenDelta(tokens))
            self.tokens = 0
        return tokens
