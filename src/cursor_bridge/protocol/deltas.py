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
all, so a word costs no Envelope, no payload copy and no function call of its own. A run
of words (text frame, then `token_delta`) in one chunk is read in C instead of a Python
loop: one regular expression checks the run frame by frame, then `bytes.split` on the
frame starts and one `decode` read it (see `_PAIRS` and `Deltas._read_run`).
Pure functions over bytes, no I/O.
"""

from __future__ import annotations

import re
from operator import itemgetter

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

# A run of words, checked in C. Each word: a text frame as above whose text holds no NUL byte
# and starts a character (its first byte is no UTF-8 continuation byte), then a token frame
# counting 1-127. A Python `re` alternation tries its branches in order but skips one at the
# cost of a byte compare when its first byte differs: the common `\x00\x00\x00\x00` is
# factored out, so the length byte picks the branch, short words first; each branch then
# holds that size's whole header and exactly its number of text bytes. What it matches,
# the frame-by-frame loop of `skim` takes the same way (other words are left to that loop).
# With no NUL in the texts and none in a frame past its first four bytes (sizes, tags,
# lengths and counts are never 0), four NULs in a row occur only where a frame starts, so
# `bytes.split` cuts the run exactly at its frames (`Deltas._read_run`). Compiling it takes
# a few milliseconds, once, at import.
_ZEROS = bytes(4)
_TOKEN_ONE = _TOKEN_HEAD + b"\x01"  # the usual token frame, counting 1


def _word_pattern(size: int) -> bytes:
    first = rb"[^\x00\x80-\xbf]"  # not NUL, not a continuation byte
    return re.escape(_TEXT_HEADS[size]) + first + rb"[^\x00]{%d}" % (size - 7)


_PAIRS = re.compile(
    rb"(?:(?:"
    + b"|".join(_word_pattern(size) for size in _TEXT_HEADS)
    + rb")"
    + re.escape(_TOKEN_HEAD)
    + rb"[\x01-\x7f])*+"
)
_RUN_MIN = 2 * (_TEXT_HEAD_SIZE + 2 + _TOKEN_FRAME)
"""Bytes a run must be able to hold (two words of two bytes) to be worth a try: below that
the fixed cost of the C path exceeds the loop's."""
_AFTER_TEXT_HEAD = itemgetter(slice(_TEXT_HEAD_SIZE, None))
_AFTER_SIZE_AND_TAGS = itemgetter(slice(_TEXT_HEAD_SIZE - 4, None))  # (after the NULs)


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
        """Consume the plain frames of a non-empty text_delta or a token_delta of 0-127
        from `data[pos:end]` whose payload is under 128 bytes, up to the first frame that
        is anything else; returns the position after them (a `framing.Skimmer`). Each is
        recognised by its whole header, compared at once (see `_TEXT_HEADS`); what it
        takes, `read_delta` would read the same, and what it leaves goes there. A run of
        words starting at a text frame is read in C (`_PAIRS`), with the same result."""
        text = self.text
        tokens = 0
        slow_until = pos  # no run is tried before here (one whose text is not UTF-8)
        while end - pos >= _TOKEN_FRAME:
            size = data[pos + 4]  # the low byte of the payload size
            if size == _TOKEN_FRAME - 5:
                count = data[pos + _TOKEN_FRAME - 1]
                if count > 0x7F or not data.startswith(_TOKEN_HEAD, pos):
                    break
                tokens += count
                pos += _TOKEN_FRAME
                continue
            head = _TEXT_HEADS.get(size)
            if head is None or not data.startswith(head, pos):
                break
            stop = pos + 5 + size
            if stop > end:
                break
            if end - pos >= _RUN_MIN and pos >= slow_until and data.startswith(_TOKEN_HEAD, stop):
                # A word, and room for more: read the run of them in C.
                match = _PAIRS.match(data, pos, end)  # (always matches, maybe nothing)
                run = match.end() if match else pos
                if run > pos:
                    counted = self._read_run(data[pos:run])
                    if counted >= 0:
                        tokens += counted
                        pos = run
                        continue
                    slow_until = run  # frame by frame: stop where the text is not UTF-8
            try:
                text.append(data[pos + _TEXT_HEAD_SIZE : stop].decode())
            except UnicodeDecodeError:
                break  # the full decoder reports it
            pos = stop
        self.tokens += tokens
        return pos

    def _read_run(self, run: bytes) -> int:
        """Add the text of a run `_PAIRS` matched; returns its token count, or -1 (and adds
        nothing) when the text is not UTF-8. The joined texts decode exactly when each one
        does: each starts a character, so no boundary falls inside one."""
        # Cut after each token frame counting 1: then every piece is one text frame.
        pieces = run.split(_TOKEN_ONE)
        raw = b"".join(map(_AFTER_TEXT_HEAD, pieces))
        if b"\x00" in raw:
            # A count other than 1 kept two frames together (a NUL is no text's): cut at
            # every frame start instead; texts and token frames alternate.
            pieces = run[4:].split(_ZEROS)
            raw = b"".join(map(_AFTER_SIZE_AND_TAGS, pieces[0::2]))
            counted = sum(b"".join(pieces[1::2])[_TOKEN_FRAME - 5 :: _TOKEN_FRAME - 4])
        else:
            counted = len(pieces) - 1
        try:
            self.text.append(raw.decode())
        except UnicodeDecodeError:
            return -1
        return counted

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
