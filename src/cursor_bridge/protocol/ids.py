"""Random ids as the backend expects them (run, conversation, request and image ids)."""

from __future__ import annotations

import os

__all__ = ["new_uuid"]


def new_uuid() -> str:
    """A random (version 4) UUID in its 36-character text form: what `str(uuid.uuid4())`
    gives, from the same entropy (os.urandom), without building a UUID object (half the
    cost; three are made per Run)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
