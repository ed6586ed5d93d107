"""Resent request bodies: a tool loop's next request starts with the bytes of the last one.

Coding agents send the whole conversation every round, so round k's body is round k-1's
body up to the end of its last message, then the new messages (the assistant's calls, their
results), then the same tail (tools, options). Decoding, checking and parsing that prefix
again every round makes each round cost O(history). `read()` decodes a body itself (with
the json module's own C scanner, value by value at the top level): a body whose bytes start
with a remembered body's messages is decoded from there on only, and the remembered
messages are reused as the very same objects, so each later step (the body check, the
dialect's parse, the conversation fingerprints) pays only for what is new by keying on
identity (`Reading.reused`, `Reading.derived`).

A first-seen body costs what `json.loads` costs plus a few top-level steps and one sorted
insert; one under MIN_BYTES, or one this reader does not handle (not a JSON object, another
encoding, anything odd), gets None and is decoded by `json.loads` as before, so every error
stays the one `json.loads` gives. Remembered bodies are bounded by bytes and count (least
recently used dropped first); one body over a quarter of the budget is not remembered.
Nothing may mutate a decoded body: its values are shared with the next round's.

Finding the remembered body: remembered heads (a body's bytes up to the end of its last
message) are kept sorted, so the longest head that begins a new body is the greatest head
not above it (every head sorted between a true prefix and the body starts with it too).
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Top-level keys whose arrays are the conversation (chat and Anthropic `messages`,
# Responses `input`).
LIST_KEYS = frozenset({"messages", "input"})
# Smaller bodies are left to json.loads (and not remembered): their follow-ups would save
# little, and a first-seen body then costs exactly what it did.
MIN_BYTES = 4096
MAX_BYTES = 32 * 1024 * 1024
MAX_ENTRIES = 1024
# Candidates tried below the greatest head (bodies forked from one history).
_TRIES = 4

# The json module's own scanners (C), as json.loads uses them: one value at an index.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_string: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_blanks = re.compile(r"[ \t\n\r]*").match
_KEY = re.compile(r'"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
_SEPARATOR = re.compile(r"[ \t\n\r]*([,}])")
_lock = threading.Lock()
_local = threading.local()


@dataclass(eq=False, slots=True)
class _Entry:
    """A remembered body: its head bytes, its top-level pairs around the message list,
    the decoded messages, the text after the list, and what later steps derived. A body
    seen for the first time is remembered by its head alone (`decoded` false: its values
    are not kept, most bodies never get a follow-up); its first follow-up is decoded whole
    and remembered with its values, for the rounds after it."""

    head: bytes
    key: str
    before: list[tuple[str, Any]] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    rest: str = ""
    after: list[tuple[str, Any]] = field(default_factory=list)
    decoded: bool = True
    derived: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class Reading:
    """One decoded body. `reused` leading messages (and, with `same_tail`, the values
    after the list) are the objects of a body that passed the check before; `unchecked`
    is what is new, as a body the check can walk."""

    body: dict[str, Any]
    messages: int
    reused: int
    unchecked: dict[str, Any]
    same_tail: bool
    _previous: _Entry | None
    _entry: _Entry | None

    def derived(self, name: str) -> Any:
        """What step *name* kept for the reused messages (see `keep_derived`), or None."""
        if self._previous is None or not self.reused:
            return None
        return self._previous.derived.get(name)

    def keep_derived(self, name: str, value: Any) -> None:
        """Keep *value*, what step *name* made of this whole body (its messages in order),
        for the next round's `derived`."""
        if self._entry is not None:
            self._entry.derived[name] = value

    def remember(self) -> None:
        """Offer this body's messages to the next round (call once the body is checked)."""
        if self._entry is not None:
            _memo.replace(self._previous, self._entry)


def read(raw: bytes) -> Reading | None:
    """*raw* decoded as `json.loads` would, or None when this reader does not handle it.
    The reading is also this thread's current one (`current`), until `forget`."""
    reading = _read(raw)
    _local.reading = reading
    return reading


def current(body: Any) -> Reading | None:
    """The reading that produced *body* in this thread, if any."""
    reading: Reading | None = getattr(_local, "reading", None)
    return reading if reading is not None and reading.body is body else None


def forget() -> None:
    _local.reading = None


def clear() -> None:
    """Forget every remembered body (tests)."""
    _memo.clear()


def _read(raw: bytes) -> Reading | None:
    if len(raw) < MIN_BYTES or raw[:1] != b"{":  # json.loads also takes other encodings
        return None
    previous = _memo.find(raw)
    try:
        if previous is not None and previous.decoded:
            reading = _follow(raw, previous)
            if reading is not None:
                return reading
        return _first(raw, previous)
    except (ValueError, StopIteration, RecursionError):
        return None


def _first(raw: bytes, previous: _Entry | None) -> Reading | None:
    """*raw* decoded whole; remembered with its values when its head follows *previous*
    (its conversation was seen before), else by its head alone."""
    text = raw.decode("utf-8", "surrogatepass")
    i = _ws(text, 1)
    pairs: list[tuple[str, Any]] = []
    found = -1
    head_end = close = 0
    if text[i : i + 1] != "}":
        while True:
            key, value, end, i = _pair(text, i)
            if found < 0 and key in LIST_KEYS and isinstance(value, list) and value:
                found, close, head_end = len(pairs), end, end - 1
                while text[head_end - 1] in " \t\n\r":
                    head_end -= 1
            pairs.append((key, value))
            if text[i : i + 1] == "}":
                break
            i = _ws(text, i + 1)
    if _ws(text, i + 1) != len(text):
        return None
    body = dict(pairs)
    entry = None
    if found >= 0 and len(body) == len(pairs):
        if len(text) != len(raw):  # not ASCII: the head's length in bytes
            head_end = len(raw) - len(text[head_end:].encode("utf-8", "surrogatepass"))
        key, items = pairs[found]
        if previous is None:
            entry = _Entry(raw[:head_end], key, decoded=False)
        else:
            entry = _Entry(
                raw[:head_end], key, pairs[:found], items, text[close:], pairs[found + 1 :]
            )
    messages = len(body.get(pairs[found][0], ())) if entry else 0
    return Reading(body, messages, 0, body, False, previous, entry)


def _follow(raw: bytes, previous: _Entry) -> Reading | None:
    """The body of *raw*, whose head is *previous*'s, decoded from there on."""
    text = raw[len(previous.head) :].decode("utf-8", "surrogatepass")
    i = _ws(text, 0)
    new: list[Any] = []
    last_end = 0
    while text[i : i + 1] == ",":
        value, end = _scan(text, _ws(text, i + 1))
        new.append(value)
        last_end = end
        i = _ws(text, end)
    if text[i : i + 1] != "]":
        return None
    rest = text[i + 1 :]
    same_tail = rest == previous.rest
    after = previous.after if same_tail else _after(rest, previous.key)
    if after is None:
        return None
    items = previous.items + new
    body = dict(previous.before)
    body[previous.key] = items
    body.update(after)
    unchecked: dict[str, Any] = {previous.key: new}
    if not same_tail:
        unchecked.update(after)
    piece = text[:last_end]
    size = len(piece) if piece.isascii() else len(piece.encode("utf-8", "surrogatepass"))
    entry = _Entry(
        raw[: len(previous.head) + size], previous.key, previous.before, items, rest, after
    )
    return Reading(body, len(items), len(previous.items), unchecked, same_tail, previous, entry)


def _after(rest: str, list_key: str) -> list[tuple[str, Any]] | None:
    """The top-level pairs in *rest* (the text after the message list), or None."""
    i = _ws(rest, 0)
    pairs: list[tuple[str, Any]] = []
    while rest[i : i + 1] == ",":
        key, value, _, i = _pair(rest, _ws(rest, i + 1))
        if key == list_key:
            return None
        pairs.append((key, value))
    if rest[i : i + 1] != "}" or _ws(rest, i + 1) != len(rest):
        return None
    return pairs


def _pair(text: str, i: int) -> tuple[str, Any, int, int]:
    """The `"key": value` at *i*: key, value, the value's end, and the index of the `,`
    or `}` after it."""
    simple = _KEY.match(text, i)  # a key without escapes is its own text
    if simple is not None:
        key, i = simple.group(1), simple.end()
    else:
        if text[i : i + 1] != '"':
            raise ValueError("not a key")
        key, i = _string(text, i + 1, True)
        i = _ws(text, i)
        if text[i : i + 1] != ":":
            raise ValueError("no colon")
        i = _ws(text, i + 1)
    value, end = _scan(text, i)
    after = _SEPARATOR.match(text, end)
    if after is None:
        raise ValueError("no separator")
    return key, value, end, after.start(1)


def _ws(text: str, i: int) -> int:
    """The index of the first non-blank character at or after *i* (JSON's blanks)."""
    return _blanks(text, i).end()  # type: ignore[union-attr]  # `*` always matches


class _Memo:
    """Remembered entries: heads sorted for the prefix search, and least recently used
    order for the bounds."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.entries: list[_Entry] = []
        self.order: OrderedDict[int, _Entry] = OrderedDict()
        self.size = 0

    def find(self, raw: bytes) -> _Entry | None:
        with _lock:
            index = bisect.bisect_right(self.heads, raw)
            for at in range(index - 1, max(index - 1 - _TRIES, -1), -1):
                if raw.startswith(self.heads[at]):
                    entry = self.entries[at]
                    self.order.move_to_end(id(entry))
                    return entry
        return None

    def replace(self, old: _Entry | None, new: _Entry) -> None:
        if len(new.head) > MAX_BYTES // 4:
            return
        with _lock:
            if old is not None and id(old) in self.order:
                self._remove(old)
            index = bisect.bisect_right(self.heads, new.head)
            self.heads.insert(index, new.head)
            self.entries.insert(index, new)
            self.order[id(new)] = new
            self.size += len(new.head)
            while self.size > MAX_BYTES or len(self.order) > MAX_ENTRIES:
                self._remove(next(iter(self.order.values())))

    def clear(self) -> None:
        with _lock:
            self.__init__()  # type: ignore[misc]

    def _remove(self, entry: _Entry) -> None:
        del self.order[id(entry)]
        self.size -= len(entry.head)
        index = bisect.bisect_left(self.heads, entry.head)
        while self.entries[index] is not entry:
            index += 1
        del self.heads[index]
        del self.entries[index]


_memo = _Memo()
