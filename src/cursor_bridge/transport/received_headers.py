"""A received header block as the transport hands it on: str pairs, `:status` apart.

h2 decodes header names and values to str for a client (its default configuration); the
bytes branch only keeps the types honest."""

from __future__ import annotations

from hpack.struct import Header

__all__ = ["split_status", "text_headers"]


def text_headers(headers: list[Header]) -> list[tuple[str, str]]:
    """Header pairs as str (h2 already decodes them; the bytes branch is for typing)."""
    return [
        (
            name if isinstance(name, str) else name.decode(),
            value if isinstance(value, str) else value.decode(),
        )
        for name, value in headers
    ]


def split_status(headers: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]]]:
    """(`:status`, the headers without pseudo-headers)."""
    status = 0
    regular = []
    for name, value in headers:
        if name == ":status":
            status = int(value)
        elif not name.startswith(":"):
            regular.append((name, value))
    return status, regular
