"""Conversation fingerprints: deciding that two requests share the same history.

A held-open Run may only be continued by a request whose earlier messages are exactly the
ones the Run was started with. Clients re-send the whole history every round, so we hash a
canonical form of each message and chain the hashes: `chain(messages)[k]` identifies the
first k messages, and one pass over a request gives every prefix's fingerprint. The engine
makes that pass once per request (in a worker thread for a long history) and hands the list
to everything that needs a prefix: claiming a parked Run, finding the checkpoint to resume,
parking, filing the turn's own checkpoint, binding the conversation to an account.

The canonical form keeps what the model saw and drops what clients are known to rewrite
between rounds without changing meaning: surrounding whitespace, reasoning text (often not
sent back), and the JSON formatting of tool-call arguments.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii

from .request import ChatMessage

# A str as json.dumps writes it (ensure_ascii, its default; the C encoder when present).
_json_string = encode_basestring_ascii

EMPTY = hashlib.sha256(b"cursor-bridge conversation").hexdigest()
# Canonical forms of messages seen lately, by value: a tool loop re-sends its whole history
# every round, so without them each round re-encodes every earlier message (JSON, sorted
# keys, tool-call arguments re-parsed), O(history) per round. Bounded by the bytes kept;
# chains may be computed in worker threads, hence the lock.
_CANONICAL: OrderedDict[ChatMessage, bytes] = OrderedDict()
_CANONICAL_MAX_BYTES = 16 * 1024 * 1024
_CANONICAL_LOCK = threading.Lock()
_canonical_bytes = 0


def canonical(message: ChatMessage) -> bytes:
    """A stable byte form of what a message means to the model. A plain message (text
    only) is written afresh: that costs no more than finding it among the remembered
    forms (hashing the message reads all its text too), and keeps one-off messages, such
    as every new conversation's, out of them."""
    global _canonical_bytes
    if not message.images and not message.tool_calls and message.role != "tool":
        return _encode_plain(message)
    with _CANONICAL_LOCK:
        known = _CANONICAL.get(message)
        if known is not None:
            _CANONICAL.move_to_end(message)
            return known
    form = _encode(message)
    with _CANONICAL_LOCK:
        if message not in _CANONICAL:
            _CANONICAL[message] = form
            _canonical_bytes += len(form)
            while _canonical_bytes > _CANONICAL_MAX_BYTES and _CANONICAL:
                _canonical_bytes -= len(_CANONICAL.popitem(last=False)[1])
    return form


def _encode(message: ChatMessage) -> bytes:
    if not message.images and not message.tool_calls and message.role != "tool":
        return _encode_plain(message)
    body: dict[str, object] = {"role": message.role, "text": message.text.strip()}
    if message.images:
        body["images"] = [hashlib.sha256(image.data).hexdigest() for image in message.images]
    if message.tool_calls:
        body["tool_calls"] = [
            [call.id, call.name, _canonical_json(call.arguments)] for call in message.tool_calls
        ]
    if message.role == "tool":
        body["tool_call_id"] = message.tool_call_id or ""
        body["is_error"] = message.is_error
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _encode_plain(message: ChatMessage) -> bytes:
    """What `_encode`'s json.dumps writes for {"role", "text"} alone (keys sorted, no
    spaces, ASCII escapes), without building and walking a dict: most messages are this."""
    role, text = _json_string(message.role), _json_string(message.text.strip())
    return ('{"role":' + role + ',"text":' + text + "}").encode()


def chain(messages: Sequence[ChatMessage], start: str = EMPTY) -> list[str]:
    """Fingerprints of every prefix: result[k] covers messages[:k] (result[0] is `start`).
    A history that starts with the very message objects of one chained lately (a tool
    loop's resent history, parsed once: engine/resent_body.py) hashes only what follows.
    A one-message history (a new conversation, most requests) is neither looked up nor
    kept: a kept chain of one message would save its successor one hash, at the price of
    the lookup and the bookkeeping on every new conversation."""
    if len(messages) == 1:
        return [start, extend(start, messages[0])]
    history = tuple(messages)
    out, size = _CHAINS.prefix(history, start)
    for message in history[len(out) - 1 :]:
        out.append(extend(out[-1], message))
        size += len(message.text) + len(message.reasoning) + 64
    _CHAINS.keep(history, start, out, size)
    return out


class _Chains:
    """Recent chains, each under the identity of its history's first message (a tool
    loop's rounds share that object); a later history continues the kept one when its
    leading messages are those same objects (tuple comparison checks identity first, so
    that costs no hashing). Bounded by count and by the characters the kept histories
    hold; a continued chain replaces the one it extends."""

    def __init__(self) -> None:
        self._kept: OrderedDict[int, tuple[tuple[ChatMessage, ...], str, list[str], int]] = (
            OrderedDict()
        )
        self._size = 0
        self._lock = threading.Lock()

    def prefix(self, history: tuple[ChatMessage, ...], start: str) -> tuple[list[str], int]:
        """The known chain of a kept prefix of *history* (else `[start]`) and its size."""
        if not history:
            return [start], 0
        with self._lock:
            kept = self._kept.get(id(history[0]))
        if kept is not None:
            messages, first, prints, size = kept
            known = len(messages)
            if first == start and known <= len(history) and messages == history[:known]:
                return prints[:], size
        return [start], 0

    def keep(
        self, history: tuple[ChatMessage, ...], start: str, prints: list[str], size: int
    ) -> None:
        if not history or size > _CHAINS_MAX_SIZE // 4:
            return
        key = id(history[0])  # the kept tuple holds that message: its id is not reused
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._size -= old[3]
            self._kept[key] = (history, start, prints, size)
            self._size += size
            while self._size > _CHAINS_MAX_SIZE or len(self._kept) > _CHAINS_MAX:
                self._size -= self._kept.popitem(last=False)[1][3]


# The bounds of what is kept.
_CHAINS_MAX = 1024
_CHAINS_MAX_SIZE = 32 * 1024 * 1024
_CHAINS = _Chains()


def binding(messages: Sequence[ChatMessage], prints: Sequence[str]) -> str:
    """What binds a conversation to its account: the fingerprint of the history up to its
    first user message (every later request of the conversation starts with it).
    *prints* is `chain(messages)`."""
    for index, message in enumerate(messages):
        if message.role == "user":
            return prints[index + 1]
    return prints[-1]


def extend(fingerprint: str, message: ChatMessage) -> str:
    return hashlib.sha256(fingerprint.encode() + b"\0" + canonical(message)).hexdigest()


def extend_answer(fingerprint: str, text: str) -> str:
    """`extend(fingerprint, ChatMessage("assistant", text))`, the history a turn ends
    (its checkpoint is filed under it), without building the message: every turn end
    pays for it."""
    form = '{"role":"assistant","text":' + _json_string(text.strip()) + "}"
    return hashlib.sha256(fingerprint.encode() + b"\0" + form.encode()).hexdigest()


def _canonical_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text or "{}"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return text.strip()
