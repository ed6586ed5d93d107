"""Many rows in one SQLite statement, for the writer thread.

Python's sqlite3 module lets go of the GIL around every step of a statement, and
`executemany` steps once per row. On a busy bridge the event loop holds the GIL, so the
writer thread then waits for it after every row, and each hand-over costs both threads a
wake-up (futex calls, context switches) taken from the requests being served. A turn's
rows (blobs, checkpoint, owner links) written as one multi-row statement per table for a
whole batch of turns cost a handful of hand-overs instead of a dozen per turn.

On Python 3.11, blob parameters (ids, small blobs) are bound as bytearray copies
(`bindable`), which the module binds directly, instead of bytes, which it first looks up
adapters for.

A statement's text depends on its row count, and SQLite compiles each text once per
connection's statement cache: counts are split into powers of two up to `MAX_ROWS`, so a
table needs at most a few distinct texts.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Sequence
from itertools import chain

# Rows per statement; with at most 5 values a row this stays under SQLite's oldest
# variable limit (999; 32766 since 3.32).
MAX_ROWS = 128

Row = tuple[object, ...]

# Python 3.11's sqlite3 binds int, float, str and bytearray directly, but sends every
# `bytes` parameter through its adapter lookup (a dict probe and two failed attribute
# lookups): about a sixth of the writer's instructions for a turn's blob ids. A bytearray
# copy of a small value is cheaper and binds as the same BLOB; larger values go as they
# are. Python 3.12 made that lookup cheap: there the copy would cost more than it saves.
COPY_BYTES = sys.version_info < (3, 12)
BIND_COPY_MAX = 4096


def bindable(value: bytes) -> bytes | bytearray:
    """*value* as a parameter that binds without the adapter lookup (the same BLOB)."""
    return bytearray(value) if COPY_BYTES and len(value) <= BIND_COPY_MAX else value


def chunks(count: int) -> list[int]:
    """*count* split into statement sizes: powers of two, at most MAX_ROWS each."""
    sizes = []
    while count > 0:
        size = min(MAX_ROWS, 1 << (count.bit_length() - 1))
        sizes.append(size)
        count -= size
    return sizes


def write_rows(conn: sqlite3.Connection, template: str, width: int, rows: Sequence[Row]) -> None:
    """Run *template* (with `{values}` where the rows go: `VALUES (?, ?), (?, ?)`) for
    *rows* of *width* values each, in order, in as few statements as `chunks` allows."""
    start = 0
    copy_max = BIND_COPY_MAX if COPY_BYTES else -1
    for size in chunks(len(rows)):
        values = chain.from_iterable(rows[start : start + size])
        # `bindable` inlined: this runs for every value of every row.
        params = [bytearray(p) if type(p) is bytes and len(p) <= copy_max else p for p in values]
        conn.execute(_statement(template, width, size), params)
        start += size


@functools.lru_cache(maxsize=256)
def _statement(template: str, width: int, count: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return template.format(values="VALUES " + ", ".join([row] * count))
