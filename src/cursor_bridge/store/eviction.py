"""Removing state: dropping a conversation, TTL expiry, and the size cap. SQL only, no policy
knobs: callers run these inside one write transaction (see SqliteStateStore).

The unit of eviction is a conversation: its checkpoint together with the blobs only it used
(blobs shared with another live conversation stay). Blobs written with no conversation
(`store.blobs`) are units of their own. Over the cap, units go least recently used first
(a conversation's use = its last checkpoint save/load or blob access through its view; a
blob's = its last get/put), until the total is back under the low-water mark.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

_BATCH = 256


@dataclass
class Removed:
    """What a removal deleted: counts, bytes freed, blob ids (to drop from read caches) and
    the keys whose owner links went (to drop from what the writer knows is stored)."""

    conversations: int = 0
    blobs: int = 0
    freed_bytes: int = 0
    blob_ids: list[bytes] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def add(self, other: Removed) -> None:
        self.conversations += other.conversations
        self.blobs += other.blobs
        self.freed_bytes += other.freed_bytes
        self.blob_ids.extend(other.blob_ids)
        self.keys.extend(other.keys)


def total_bytes(conn: sqlite3.Connection) -> int:
    (total,) = conn.execute(
        "SELECT blob_bytes + checkpoint_bytes FROM usage WHERE one = 1"
    ).fetchone()
    return int(total)


# A checkpoint that continued from a dropped one takes over what that one owned, and its
# parents (so a chain dropped from its oldest end keeps every blob its newest needs).
_HAND_DOWN = (
    "INSERT OR IGNORE INTO owners (conversation, blob)"
    " SELECT ?, blob FROM owners WHERE conversation = ?"
)
_TAKE_PARENTS = (
    "INSERT OR IGNORE INTO parents (child, parent)"
    " SELECT ?, parent FROM parents WHERE child = ? AND parent != ?"
)


def drop_conversation(conn: sqlite3.Connection, key: str) -> Removed:
    """Delete a conversation, its checkpoint, and the blobs no other conversation owns
    (the checkpoints that continued from it owning, from now on, what it owned)."""
    removed = Removed()
    children = conn.execute(
        # Only children still there (an older bridge on the same file drops without
        # looking at this table): owner links for a missing key would never be removed.
        "SELECT p.child FROM parents p JOIN conversations c ON c.key = p.child WHERE p.parent = ?",
        (key,),
    ).fetchall()
    for (child,) in children:
        conn.execute(_HAND_DOWN, (child, key))
        conn.execute(_TAKE_PARENTS, (child, key, child))
    conn.execute("DELETE FROM parents WHERE parent = ? OR child = ?", (key, key))
    row = conn.execute(
        "SELECT ifnull(length(checkpoint), 0) FROM conversations WHERE key = ?", (key,)
    ).fetchone()
    sole = conn.execute(
        "SELECT b.id, b.size FROM owners o JOIN blobs b ON b.id = o.blob"
        " WHERE o.conversation = ? AND b.owners = 1",
        (key,),
    ).fetchall()
    removed.add(_delete_blobs(conn, sole))
    conn.execute("DELETE FROM owners WHERE conversation = ?", (key,))
    removed.keys.append(key)
    if row is not None:
        conn.execute("DELETE FROM conversations WHERE key = ?", (key,))
        removed.conversations = 1
        removed.freed_bytes += int(row[0])
    return removed


def expire(conn: sqlite3.Connection, cutoff: float) -> Removed:
    """Drop conversations unused since *cutoff*, then unowned blobs not accessed since then."""
    removed = Removed()
    # Most recently used first: mostly children before their parents, so that little is
    # handed down to checkpoints that go next anyway (any order is correct).
    stale = conn.execute(
        "SELECT key FROM conversations WHERE used_at < ? ORDER BY used_at DESC", (cutoff,)
    ).fetchall()
    for (key,) in stale:
        removed.add(drop_conversation(conn, key))
    while True:
        rows = conn.execute(
            "SELECT id, size FROM blobs WHERE owners = 0 AND accessed < ? LIMIT ?",
            (cutoff, _BATCH),
        ).fetchall()
        if not rows:
            return removed
        removed.add(_delete_blobs(conn, rows))


def evict(conn: sqlite3.Connection, target: int) -> Removed:
    """Remove least recently used units until the total is at most *target* bytes."""
    removed = Removed()
    usage = total_bytes(conn)
    while usage > target:
        oldest = conn.execute(
            "SELECT key, used_at FROM conversations ORDER BY used_at LIMIT 1"
        ).fetchone()
        if oldest is None:
            rows = conn.execute(
                "SELECT id, size FROM blobs WHERE owners = 0 ORDER BY accessed LIMIT ?",
                (_BATCH,),
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT id, size FROM blobs WHERE owners = 0 AND accessed <= ?"
                " ORDER BY accessed LIMIT ?",
                (oldest[1], _BATCH),
            ).fetchall()
        if rows:
            batch = []
            for blob, size in rows:
                batch.append((blob, size))
                usage -= size
                if usage <= target:
                    break
            removed.add(_delete_blobs(conn, batch))
        elif oldest is not None:
            removed.add(drop_conversation(conn, oldest[0]))
            usage = total_bytes(conn)
        else:
            break  # nothing left that we may remove
    return removed


def _delete_blobs(conn: sqlite3.Connection, rows: list[tuple[bytes, int]]) -> Removed:
    conn.executemany("DELETE FROM blobs WHERE id = ?", [(blob,) for blob, _ in rows])
    return Removed(
        blobs=len(rows),
        freed_bytes=sum(size for _, size in rows),
        blob_ids=[blob for blob, _ in rows],
    )
