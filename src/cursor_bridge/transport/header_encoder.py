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

On top of that it remembers what it encoded while its table stays unchanged (`known`): a
header present in the table has one representation until the next insertion or size
change, so a caller that opens stream after stream with the same headers can look each
one up instead of encoding it (transport/request_frames.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hpack import Encoder, HeaderTuple
from hpack.hpack import INDEX_NEVER, encode_integer
from hpack.table import HeaderTable

__all__ = ["LastRequest", "RepeatEncoder"]

_STATIC = HeaderTable.STATIC_TABLE_MAPPING
_FIRST_DYNAMIC = HeaderTable.STATIC_TABLE_LENGTH + 1
# Indexed representation (RFC 7541 §6.1) of indices below 127: one byte, high bit set.
_ONE_BYTE = [bytes([0x80 | index]) for index in range(127)]
# A string length below 127 without Huffman coding (RFC 7541 §5.2): one byte.
_SHORT_LENGTH = [bytes([length]) for length in range(127)]
# More than this many remembered representations: start again (only headers present in
# the table are remembered, so this only bounds headers spelled many ways).
_MAX_KNOWN = 512


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


@dataclass(frozen=True, slots=True)
class LastRequest:
    """The last request header block put together from remembered representations
    (transport/request_frames.py): the `known` dict it was valid under, its pseudo-headers
    and headers as given (copies), one part per header, and the positions among the headers
    of the never-indexed ones (written out per request, not remembered)."""

    known: dict[object, bytes]
    pseudo: list[tuple[bytes, bytes]]
    headers: list[tuple[str, str]]
    parts: list[bytes]
    varying: list[int]


class RepeatEncoder(Encoder):
    """`hpack.Encoder` that encodes headers already in its table in O(1) each and sends
    literals without Huffman coding (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.header_table: _InsertionTable = _InsertionTable()
        # Representations valid while the table holds what it held at insertion number
        # `_known_at` (see `known`), and never-indexed name prefixes likewise.
        self._known: dict[object, bytes] = {}
        self._prefixes: dict[bytes, bytes] = {}
        self._known_at = -1
        self.last_request: LastRequest | None = None

    def known(self) -> dict[object, bytes] | None:
        """Header representations remembered under the table as it is now, by the key the
        caller chose (see `encode_remembering`); None when the next block must start with
        a table size change (then encode through `encode`)."""
        table = self.header_table
        if table.resized:
            return None
        if table.insertions != self._known_at or len(self._known) > _MAX_KNOWN:
            self._known = {}
            self._prefixes = {}
            self._known_at = table.insertions
        return self._known

    def encode_remembering(self, headers: list[Any], keys: list[object]) -> bytes:
        """`encode(headers)`, remembering each indexable header's representation under the
        matching key of *keys* when the block changed nothing in the table (then every one
        of them is an index, valid until the table changes)."""
        table = self.header_table
        before = table.insertions if not table.resized else -1
        parts: list[bytes] = []
        block = self._encode(headers, parts)
        if table.insertions == before:
            known = self.known()
            if known is not None:
                for key, header, part in zip(keys, headers, parts, strict=True):
                    if type(header) is tuple or header.indexable:
                        known[key] = part
        return block

    def never_indexed(self, name: bytes, value: bytes) -> bytes:
        """What `encode` gives a NeverIndexedHeaderTuple (*name*, *value*): the literal
        after the name's prefix, remembered per name while the table is unchanged. Call
        `known()` first (it is what empties the remembered prefixes)."""
        table = self.header_table
        static = _STATIC.get(name)
        if (static is not None and value in static[1]) or (name, value) in table.inserted_at:
            return self.add((name, value), True, False)  # a full match: hpack's own answer
        prefix = self._prefixes.get(name)
        if prefix is None:
            prefix = self._name_prefix(name)
            self._prefixes[name] = prefix
        size = len(value)
        length = _SHORT_LENGTH[size] if size < 127 else bytes(encode_integer(size, 7))
        return prefix + length + value

    def _name_prefix(self, name: bytes) -> bytes:
        """hpack's never-indexed representation of *name* without a full match, up to the
        value's length: the name's first index (static table first, as `search` looks),
        else the name as a literal."""
        table = self.header_table
        static = _STATIC.get(name)
        index = static[0] if static is not None else None
        if index is None:
            for position, (entry, _) in enumerate(table.dynamic_entries):
                if entry == name:
                    index = _FIRST_DYNAMIC + position
                    break
        if index is None:  # an empty value's representation, less its length byte
            return self._encode_literal(name, b"", INDEX_NEVER, False)[:-1]
        return self._encode_indexed_literal(index, b"", INDEX_NEVER, False)[:-1]

    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        """The header block for *headers*: (name, value) pairs of bytes, or HeaderTuples
        (a NeverIndexedHeaderTuple stays out of the table). *huffman* is ignored."""
        return self._encode(headers, [])

    def _encode(self, headers: Iterable[Any], block: list[bytes]) -> bytes:
        """`encode`, leaving one representation per header in *block* (empty at first)."""
        table = self.header_table
        prefix = b""
        if table.resized:
            prefix = self._encode_table_size_change()
            table.resized = False
            self._known_at = -1  # the size change may have evicted remembered entries
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
        return prefix + b"".join(block)
