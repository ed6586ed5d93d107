"""Random ids as the backend expects them (run, conversation, request and image ids).

Their randomness comes from os.urandom, read `_BATCH` ids at a time (one getrandom call
instead of one per id; three ids are made per Run). Each 16 bytes are handed out once:
`popleft` of a deque is atomic, so threads never share a value, and a forked child starts
with an empty pool (it must not repeat its parent's ids)."""

from __future__ import annotations

import os
from collections import deque

__all__ = ["new_uuid", "random_16"]

_SIZE = 16
_BATCH = 256
_pool: deque[bytes] = deque()
os.register_at_fork(after_in_child=_pool.clear)


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
    raw = bytearray(random_16())
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
