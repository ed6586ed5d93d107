"""Random ids as the backend expects them (run, conversation, request and image ids).

Their randomness comes from os.urandom, read `_BATCH` ids at a time (one getrandom call
instead of one per id; three ids are made per Run). Each 16 bytes are handed out once:
`popleft` of a deque is atomic, so threads never share a value, and a forked child starts
with an empty pool (it must not repeat its parent's ids). UUIDs are written out a batch
at a time too (`_uuid_texts`), so making one is a `popleft`."""

from __future__ import annotations

import os
from collections import deque

__all__ = ["new_uuid", "random_16"]

_SIZE = 16
_BATCH = 256
_pool: deque[bytes] = deque()
os.register_at_fork(after_in_child=_pool.clear)
# UUIDs written out ahead, each from its own 16 bytes of a batch no other pool draws from.
_uuids: deque[str] = deque()
os.register_at_fork(after_in_child=_uuids.clear)
# The hex digit that starts a UUID's variant group, by the random digit it replaces: the
# digit's top two bits become 10 (RFC 4122, `(byte & 0x3F) | 0x80`).
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def random_16() -> bytes:
    """16 bytes from os.urandom that no other caller gets."""
    try:
        return _pool.popleft()
    except IndexError:
        block = os.urandom(_SIZE * _BATCH)
        _pool.extend(block[i : i + _SIZE] for i in range(_SIZE, len(block), _SIZE))
        return block[:_SIZE]


def new_uuid() -> str:
    """A random (version 4) UUID in its 36-character text form: what `str(uuid.uuid4())`
    gives, from the same entropy (os.urandom), without building a UUID object."""
    try:
        return _uuids.popleft()
    except IndexError:
        made = _uuid_texts(os.urandom(_SIZE * _BATCH))
        _uuids.extend(made[1:])
        return made[0]


def _uuid_texts(block: bytes) -> list[str]:
    """The version 4 UUID of each 16 bytes of *block*, in order: their hex digits with the
    version digit (13th) set to 4 and the variant digit (17th) to 10xx, as
    `str(uuid.UUID(bytes=..., version=4))` writes them."""
    text = block.hex()
    variant = _VARIANT
    return [
        f"{text[at : at + 8]}-{text[at + 8 : at + 12]}-4{text[at + 13 : at + 16]}-"
        f"{variant[text[at + 16]]}{text[at + 17 : at + 20]}-{text[at + 20 : at + 32]}"
        for at in range(0, len(text), 2 * _SIZE)
    ]
