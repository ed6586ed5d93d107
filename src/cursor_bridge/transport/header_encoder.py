"""An HPACK encoder for request headers that repeat on every stream.

Every Run opens a stream with the same ~18 headers; after the first, each is already in
the connection's dynamic table and goes out as a one-byte index. `hpack.Encoder` finds
that index by scanning the table for every header (with a debug log call per header) and
Huffman-codes every literal in pure Python, about 0.2 ms per stream (a long bearer token
alone costs ~0.1 ms of Huffman coding per Run).

`RepeatEncoder` is `hpack.Encoder` with two changes:
- a header the table already holds is found by a dictionary lookup: the table records
  when each entry was inserted, and entries only ever leave from the oldest end (or all
  at once), so an entry inserted k insertions ago is still present exactly when the table
  holds more than k entries;
- literals are sent without Huffman coding (what they are is unchanged, only their size:
  a few dozen bytes per Run, which is not worth 0.1 ms of CPU).
Headers that are not in the table, and never-indexed ones, go through hpack's own code,
so the table and its size bookkeeping are hpack's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hpack import Encoder, HeaderTuple
from hpack.table import HeaderTable

__all__ = ["RepeatEncoder"]

_STATIC = HeaderTable.STATIC_TABLE_MAPPING
_FIRST_DYNAMIC = HeaderTable.STATIC_TABLE_LENGTH + 1
# Indexed representation (RFC 7541 §6.1) of indices below 127: one byte, high bit set.
_ONE_BYTE = [bytes([0x80 | index]) for index in range(127)]


class _InsertionTable(HeaderTable):
    """hpack's table, noting the insertion number of each entry it holds. (An entry too big
    for the table empties it and is not stored; counting it anyway is harmless: the entries
    newer than it are then all the table holds, so it never looks present.)"""

    def __init__(self) -> None:
        super().__init__()
        self.insertions = 0
        self.inserted_at: dict[tuple[bytes, bytes], int] = {}

    def add(self, name: bytes, value: bytes) -> None:
        super().add(name, value)
        self.insertions += 1
        self.inserted_at[(name, value)] = self.insertions
        if len(self.inserted_at) > 4 * len(self.dynamic_entries) + 64:
            self._forget_evicted()

    def _forget_evicted(self) -> None:
        present = len(self.dynamic_entries)
        self.inserted_at = {
            header: at for header, at in self.inserted_at.items() if self.insertions - at < present
        }


class RepeatEncoder(Encoder):
    """`hpack.Encoder` that encodes headers already in its table in O(1) each and sends
    literals without Huffman coding (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.header_table: _InsertionTable = _InsertionTable()

    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        """The header block for *headers*: (name, value) pairs of bytes, or HeaderTuples
        (a NeverIndexedHeaderTuple stays out of the table). *huffman* is ignored."""
        table = self.header_table
        block: list[bytes] = []
        if table.resized:
            block.append(self._encode_table_size_change())
            table.resized = False
        inserted_at, insertions = table.inserted_at, table.insertions
        entries = table.dynamic_entries
        for header in headers:
            if (
                type(header) is not tuple
                and isinstance(header, HeaderTuple)
                and not header.indexable
            ):
                block.append(self.add((header[0], header[1]), True, False))
                continue
            name, value = header[0], header[1]
            static = _STATIC.get(name)
            index = static[1].get(value) if static is not None else None
            if index is None:
                at = inserted_at.get((name, value))
                if at is not None and insertions - at < len(entries):
                    index = _FIRST_DYNAMIC + insertions - at
            if index is not None and index < 127:
                block.append(_ONE_BYTE[index])
            else:
                block.append(self.add((name, value), False, False))
                inserted_at, insertions = table.inserted_at, table.insertions
        return b"".join(block)
