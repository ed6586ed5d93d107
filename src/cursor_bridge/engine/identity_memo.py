"""Figures computed from an object, remembered by the object's identity.

A request's tools are parsed once and then read by several steps (token figures, tool
definitions), and a tool loop's rounds share the very same tuple (engine/resent_body.py):
keyed by `id()`, a lookup costs no hashing of what may be kilobytes of schema. Each entry
holds its object, so the id cannot be reused by another object while the entry lives; an
entry under the id is still checked to be the same object (a memo may be handed one made
elsewhere). A full memo is cleared whole: the figures are cheap to make again, and this
keeps the bookkeeping to one dict operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remembered(memo: dict[int, tuple[K, V]], key: K, make: Callable[[K], V], limit: int) -> V:
    """`make(key)`, kept in *memo* under the identity of *key* (at most *limit* entries)."""
    kept = memo.get(id(key))
    if kept is not None and kept[0] is key:
        return kept[1]
    value = make(key)
    if len(memo) >= limit:
        memo.clear()
    memo[id(key)] = (key, value)
    return value
