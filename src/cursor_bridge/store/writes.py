"""Write operations and how one batch of them becomes one SQLite transaction.

The store queues writes in call order; a batch applies them in that order inside one
transaction, then the queued access-time notes, then expiry and the size cap. Applying in
order is what makes a crash safe: a checkpoint is never committed before the blobs that
were put ahead of it. Consecutive finished turns (most of a batch) go in as a few
multi-row statements (`TurnRows`, store/rows.py) that leave what one statement a row would.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field

from . import eviction
from .known_blobs import BatchBlobs
from .rows import Row, bindable, write_rows
from .types import PruneResult, StoredCheckpoint

# Templates: `{values}` takes the rows (store/rows.py); the single-row statements are the
# same with one row.
_PUT_DATA_ROWS = (
    "INSERT INTO blob_data (id, data) {values}"
    " ON CONFLICT (id) DO UPDATE SET data = excluded.data WHERE data IS NOT excluded.data"
)
_PUT_BLOB_ROWS = (
    "INSERT INTO blobs (id, size, accessed) {values}"
    " ON CONFLICT (id) DO UPDATE SET size = excluded.size,"
    " accessed = max(accessed, excluded.accessed)"
)
# A batch's new blobs: inserted after their owner links, already counting them (TurnRows).
_PUT_OWNED_BLOB_ROWS = (
    "INSERT INTO blobs (id, size, accessed, owners) {values}"
    " ON CONFLICT (id) DO UPDATE SET size = excluded.size,"
    " accessed = max(accessed, excluded.accessed)"
)
_TOUCH_CONVERSATION_ROWS = (
    "INSERT INTO conversations (key, used_at) {values}"
    " ON CONFLICT (key) DO UPDATE SET used_at = max(used_at, excluded.used_at)"
)
_SAVE_CHECKPOINT_ROWS = (
    "INSERT INTO conversations (key, checkpoint, meta, saved_at, used_at) {values}"
    " ON CONFLICT (key) DO UPDATE SET checkpoint = excluded.checkpoint, meta = excluded.meta,"
    " saved_at = excluded.saved_at, used_at = max(used_at, excluded.used_at)"
)
# For blobs known to be stored (written or confirmed in this very transaction).
_OWN_ROWS = "INSERT OR IGNORE INTO owners (conversation, blob) {values}"
# For blobs stored earlier, maybe since evicted: linked only if still there. CROSS JOIN
# keeps the rows as the outer loop (one primary-key lookup each).
_LINK_ROWS = (
    "INSERT OR IGNORE INTO owners (conversation, blob) SELECT row.column1, blobs.id"
    " FROM ({values}) AS row CROSS JOIN blobs ON blobs.id = row.column2"
)
# The parent's blobs pass to the child when the parent is dropped (store/eviction.py).
_CONTINUES_ROWS = (
    "INSERT OR IGNORE INTO parents (child, parent) SELECT row.column1, conversations.key"
    " FROM ({values}) AS row CROSS JOIN conversations ON conversations.key = row.column2"
)


def _one(template: str, width: int) -> str:
    return template.format(values="VALUES (" + ", ".join("?" * width) + ")")


_PUT_DATA = _one(_PUT_DATA_ROWS, 2)
_PUT_BLOB = _one(_PUT_BLOB_ROWS, 3)
_TOUCH_BLOB = "UPDATE blobs SET accessed = max(accessed, ?) WHERE id = ?"
_TOUCH_CONVERSATION = _one(_TOUCH_CONVERSATION_ROWS, 2)
_LINK = "INSERT OR IGNORE INTO owners (conversation, blob) SELECT ?, id FROM blobs WHERE id = ?"
_OWN = _one(_OWN_ROWS, 2)
_SAVE_CHECKPOINT = _one(_SAVE_CHECKPOINT_ROWS, 5)


@dataclass(eq=False, slots=True)
class PutBlob:
    conversation: str | None
    key: bytes
    data: bytes
    at: float


# json.dumps builds a new encoder for every call with sort_keys; this one is made once.
_encode_meta = json.JSONEncoder(sort_keys=True).encode


def meta_text(stored: StoredCheckpoint) -> str:
    """The meta column (JSON), made by the writer rather than the caller's event loop."""
    return _encode_meta(stored.meta)


@dataclass(eq=False, slots=True)
class SaveCheckpoint:
    stored: StoredCheckpoint

    @property
    def conversation(self) -> str:
        return self.stored.conversation_key


@dataclass(eq=False, slots=True)
class SaveTurn:
    """A finished turn as one unit: its checkpoint, the blobs it put, and an owner link
    from the checkpoint to every blob it may need, so the two are kept or evicted together.

    `reachable` lists ids stored earlier that the turn used; `parent` is the checkpoint the
    turn continued from, whose blobs stay reachable from this one."""

    stored: StoredCheckpoint
    blobs: dict[bytes, bytes]
    reachable: tuple[bytes, ...]
    parent: str | None = None

    @property
    def conversation(self) -> str:
        return self.stored.conversation_key


@dataclass(eq=False, slots=True)
class DropConversation:
    conversation: str
    expired: bool = False  # dropped because a load found it past the TTL


@dataclass(eq=False, slots=True)
class Prune:
    """Expire and enforce the cap; `result` is filled in when the batch commits."""

    result: PruneResult | None = None


@dataclass(eq=False, slots=True)
class Barrier:
    """No change: makes a batch happen (and its touches get written), for flush()."""


Op = PutBlob | SaveCheckpoint | SaveTurn | DropConversation | Prune | Barrier


def size_of(op: Op) -> int:
    """Roughly how many bytes *op* writes (blob data and checkpoints)."""
    if isinstance(op, PutBlob):
        return len(op.data)
    if isinstance(op, SaveCheckpoint):
        return len(op.stored.checkpoint)
    if isinstance(op, SaveTurn):
        return len(op.stored.checkpoint) + sum(map(len, op.blobs.values()))
    return 0


@dataclass(slots=True)
class Touches:
    """Access notes queued by reads: blob and conversation last-use times, and which
    conversation read which blob (so it owns it too)."""

    blobs: dict[bytes, float] = field(default_factory=dict)
    conversations: dict[str, float] = field(default_factory=dict)
    links: dict[str, set[bytes]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.blobs or self.conversations or self.links)

    def merge_older(self, older: Touches) -> None:
        """Put back notes from a batch that failed, without overriding newer ones."""
        for key, at in older.blobs.items():
            self.blobs[key] = max(at, self.blobs.get(key, at))
        for conv, at in older.conversations.items():
            self.conversations[conv] = max(at, self.conversations.get(conv, at))
        for conv, keys in older.links.items():
            self.links.setdefault(conv, set()).update(keys)


@dataclass
class Applied:
    """What a committed batch removed, by cause."""

    expired: eviction.Removed = field(default_factory=eviction.Removed)
    evicted: eviction.Removed = field(default_factory=eviction.Removed)
    dropped: eviction.Removed = field(default_factory=eviction.Removed)
    expired_on_load: int = 0

    @property
    def removed_blob_ids(self) -> list[bytes]:
        return self.expired.blob_ids + self.evicted.blob_ids + self.dropped.blob_ids

    def prune_result(self) -> PruneResult:
        return PruneResult(
            expired_conversations=self.expired.conversations + self.expired_on_load,
            expired_blobs=self.expired.blobs,
            evicted_conversations=self.evicted.conversations,
            evicted_blobs=self.evicted.blobs,
            freed_bytes=self.expired.freed_bytes + self.evicted.freed_bytes,
        )


def apply(
    conn: sqlite3.Connection,
    ops: list[Op],
    touches: Touches,
    known: BatchBlobs,
    *,
    expire_before: float | None,
    max_bytes: int,
    low_water: int,
) -> Applied:
    """Apply *ops* in order, then *touches* (also before any drop), then expiry (if
    *expire_before* is given) and the size cap, in the caller's open transaction. *known*
    learns what is written and removed, and tells what a turn need not write again.
    Consecutive turns are written together (`TurnRows`), before any other op."""
    applied = Applied()
    turns = TurnRows()
    for op in ops:
        if isinstance(op, SaveTurn):
            turns.add(op, known)
            continue
        turns.write(conn)
        if isinstance(op, DropConversation):
            # A read queued before the drop may have made another conversation an owner of
            # a blob the dropped one owned: record that first (touches are idempotent).
            _apply_touches(conn, touches)
        if isinstance(op, PutBlob):
            key = bindable(op.key)
            conn.execute(_PUT_DATA, (key, bindable(op.data)))
            conn.execute(_PUT_BLOB, (key, len(op.data), op.at))
            known.wrote(((op.key, op.data),))
            if op.conversation is not None:
                conn.execute(_TOUCH_CONVERSATION, (op.conversation, op.at))
                conn.execute(_OWN, (op.conversation, key))
                known.linked(op.conversation, (op.key,))
        elif isinstance(op, SaveCheckpoint):
            s = op.stored
            conn.execute(
                _SAVE_CHECKPOINT,
                (s.conversation_key, s.checkpoint, meta_text(s), s.saved_at, s.saved_at),
            )
        elif isinstance(op, DropConversation):
            removed = eviction.drop_conversation(conn, op.conversation)
            known.removed(removed.blob_ids, removed.keys)
            applied.dropped.add(removed)
            if op.expired:
                applied.expired_on_load += removed.conversations
    turns.write(conn)
    # After the ops too: a read may have been served from a put queued in this batch.
    _apply_touches(conn, touches)
    if expire_before is not None:
        applied.expired = eviction.expire(conn, expire_before)
        known.removed(applied.expired.blob_ids, applied.expired.keys)
    if eviction.total_bytes(conn) > max_bytes:
        applied.evicted = eviction.evict(conn, low_water)
        known.removed(applied.evicted.blob_ids, applied.evicted.keys)
    return applied


class TurnRows:
    """The rows of consecutive turns, written as one multi-row statement per kind
    (store/rows.py), however many turns and blobs: what one statement a row would leave.
    Blobs the database already holds with the same bytes are not written again, and links
    the key already has are not made again (a blob's access time is then left as it is: it
    only orders blobs that no conversation owns, and these are owned).

    Each kind goes in turn order, so a later checkpoint of a key replaces an earlier one;
    a key saved again in the batch keeps one checkpoint row, the last, as last used at the
    latest of its saves (what the upserts in turn order would leave, triggers included).
    A turn's links to blobs stored earlier, and its note of the checkpoint it continued,
    are made only if those exist when the turn is written: the ones that no earlier turn of
    the batch wrote are made first, against what the database held before the batch (a
    batch only adds, so that is what the turn would have found)."""

    __slots__ = ("_keys", "_written", "checkpoints", "data", "early", "late", "owns", "sizes")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.data: list[Row] = []
        self.sizes: list[Row] = []
        # The checkpoint each key keeps, and its last-used time: its row (the meta JSON
        # included) is made at `write`, once per key, however often the batch saves it.
        self.checkpoints: list[tuple[StoredCheckpoint, float]] = []
        self.owns: list[Row] = []
        # (links, parents) made before the batch's rows, and after them.
        self.early: tuple[list[Row], list[Row]] = ([], [])
        self.late: tuple[list[Row], list[Row]] = ([], [])
        self._written: set[bytes] = set()  # blobs the batch writes, so far
        # Checkpoints the batch saves, so far: their rows and last-used times.
        self._keys: dict[str, tuple[int, float]] = {}

    def add(self, op: SaveTurn, known: BatchBlobs) -> None:
        s = op.stored
        key, at = s.conversation_key, s.saved_at
        if fresh := known.fresh(op.blobs):
            self.data += fresh
            self.sizes += [(blob, len(data), at) for blob, data in fresh]
            self._written.update(blob for blob, _ in fresh)
        saved = self._keys.get(key)
        if saved is None:
            self._keys[key] = (len(self.checkpoints), at)
            self.checkpoints.append((s, at))
        else:  # saved again (a turn's last checkpoint after the one filed at turn_ended)
            row, used = saved[0], max(at, saved[1])
            self._keys[key] = (row, used)
            self.checkpoints[row] = (s, used)
        if own := known.unlinked(key, op.blobs):
            # Stored: written above, earlier in this batch, or known committed.
            self.owns += [(key, blob) for blob in own]
            known.linked(key, own)
        if op.reachable and (reach := known.unlinked(key, op.reachable)):
            # Stored earlier, maybe since evicted: linked only if still there (not remembered).
            for blob in reach:
                (self.late if blob in self._written else self.early)[0].append((key, blob))
        if op.parent is not None and op.parent != key:
            (self.late if op.parent in self._keys else self.early)[1].append((key, op.parent))

    def write(self, conn: sqlite3.Connection) -> None:
        """Write what was added (nothing when empty), and start over."""
        if not self.checkpoints:
            return
        write_rows(conn, _LINK_ROWS, 2, self.early[0])
        write_rows(conn, _CONTINUES_ROWS, 2, self.early[1])
        write_rows(conn, _PUT_DATA_ROWS, 2, self.data)
        # Links before blobs: the owner trigger counts a link to a blob the database
        # already holds; a blob it does not hold yet has no links (a link is only ever made
        # to a stored blob, and a blob goes only with its last link), so the trigger finds
        # nothing and the insert starts the blob at its number of links instead (an
        # existing blob's count is left to the trigger: the upsert does not set it). A new
        # blob then costs no trigger UPDATE and never enters the unowned index.
        write_rows(conn, _OWN_ROWS, 2, self.owns)
        links = Counter(blob for _, blob in self.owns)
        write_rows(conn, _PUT_OWNED_BLOB_ROWS, 4, [(*row, links[row[0]]) for row in self.sizes])
        checkpoints = [
            (s.conversation_key, s.checkpoint, meta_text(s), s.saved_at, used)
            for s, used in self.checkpoints
        ]
        write_rows(conn, _SAVE_CHECKPOINT_ROWS, 5, checkpoints)
        write_rows(conn, _LINK_ROWS, 2, self.late[0])
        write_rows(conn, _CONTINUES_ROWS, 2, self.late[1])
        self.clear()


def _apply_touches(conn: sqlite3.Connection, touches: Touches) -> None:
    if touches.conversations:
        conn.executemany(_TOUCH_CONVERSATION, touches.conversations.items())
    if touches.blobs:
        conn.executemany(_TOUCH_BLOB, [(at, bindable(key)) for key, at in touches.blobs.items()])
    if touches.links:
        conn.executemany(
            _LINK,
            [(conv, bindable(key)) for conv, keys in touches.links.items() for key in keys],
        )
