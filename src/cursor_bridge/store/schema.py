"""Opening the state database: a private file, WAL mode, the schema, and what to do when it is bad.

Tables: `blobs` (id, size, last access, number of owning conversations), `blob_data` (the
bytes), `conversations` (checkpoint, meta, saved/used times), `owners` (which conversation
used which blob) and `parents` (which checkpoint continued from which: the parent's blobs
pass to the child when the parent goes, instead of being copied at every turn). The schema
keeps its own accounting: triggers maintain one `usage` row (blob count and bytes,
conversations, checkpoint bytes) and each blob's `owners` count (a blob new to a batch of turns
is inserted with its count: store/writes.py `TurnRows`), so size checks and /metrics
read one row instead of scanning, and every process sharing the file sees the same numbers.

A file that is not a SQLite database, or whose header is damaged, holds nothing but a cache
(a lost checkpoint only costs a fresh Run), so it is moved aside (`<name>.corrupt-<time>`, kept
for inspection) and a new database is created. A file we may not open (permissions, a
directory in the way) or one written by a newer schema raises `StateStoreError` instead:
those need the user, and deleting them would destroy state we do not understand.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
import stat
import time
from pathlib import Path

from .types import StateStoreError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# How long a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT = 5.0
# Keep the WAL from staying large after a burst of big blobs.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024

_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}

# Added to schema 1 without a version change, so an older bridge still opens the file (it
# ignores the table: dropping a parent there costs its children a fresh Run at worst).
_ADDED = """
CREATE TABLE IF NOT EXISTS parents (
    child TEXT NOT NULL,
    parent TEXT NOT NULL,
    PRIMARY KEY (child, parent)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parents_by_parent ON parents(parent);
"""

_DDL = """
CREATE TABLE blobs (
    id BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    accessed REAL NOT NULL,
    owners INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX blobs_unowned_by_access ON blobs(accessed) WHERE owners = 0;

-- Bytes apart from bookkeeping: SQLite rewrites a whole row on update, and touching a
-- 256 KiB blob's access time must not rewrite its 256 KiB.
CREATE TABLE blob_data (
    id BLOB PRIMARY KEY,
    data BLOB NOT NULL
);

CREATE TABLE conversations (
    key TEXT PRIMARY KEY,
    checkpoint BLOB,
    meta TEXT NOT NULL DEFAULT '{}',
    saved_at REAL,
    used_at REAL NOT NULL
);
CREATE INDEX conversations_by_use ON conversations(used_at);

CREATE TABLE owners (
    conversation TEXT NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (conversation, blob)
) WITHOUT ROWID;

CREATE TABLE usage (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    blob_count INTEGER NOT NULL,
    blob_bytes INTEGER NOT NULL,
    conversations INTEGER NOT NULL,
    checkpoints INTEGER NOT NULL,
    checkpoint_bytes INTEGER NOT NULL
);
INSERT INTO usage VALUES (1, 0, 0, 0, 0, 0);

CREATE TRIGGER blobs_added AFTER INSERT ON blobs BEGIN
    UPDATE usage SET blob_count = blob_count + 1, blob_bytes = blob_bytes + NEW.size;
END;
CREATE TRIGGER blobs_removed AFTER DELETE ON blobs BEGIN
    UPDATE usage SET blob_count = blob_count - 1, blob_bytes = blob_bytes - OLD.size;
    DELETE FROM blob_data WHERE id = OLD.id;
END;
CREATE TRIGGER blobs_resized AFTER UPDATE OF size ON blobs BEGIN
    UPDATE usage SET blob_bytes = blob_bytes - OLD.size + NEW.size;
END;

CREATE TRIGGER owner_added AFTER INSERT ON owners BEGIN
    UPDATE blobs SET owners = owners + 1 WHERE id = NEW.blob;
END;
CREATE TRIGGER owner_removed AFTER DELETE ON owners BEGIN
    UPDATE blobs SET owners = owners - 1 WHERE id = OLD.blob;
END;

CREATE TRIGGER conversation_added AFTER INSERT ON conversations BEGIN
    UPDATE usage SET
        conversations = conversations + 1,
        checkpoints = checkpoints + (NEW.checkpoint IS NOT NULL),
        checkpoint_bytes = checkpoint_bytes + ifnull(length(NEW.checkpoint), 0);
END;
CREATE TRIGGER conversation_removed AFTER DELETE ON conversations BEGIN
    UPDATE usage SET
        conversations = conversations - 1,
        checkpoints = checkpoints - (OLD.checkpoint IS NOT NULL),
        checkpoint_bytes = checkpoint_bytes - ifnull(length(OLD.checkpoint), 0);
END;
CREATE TRIGGER checkpoint_replaced AFTER UPDATE OF checkpoint ON conversations BEGIN
    UPDATE usage SET
        checkpoints = checkpoints - (OLD.checkpoint IS NOT NULL) + (NEW.checkpoint IS NOT NULL),
        checkpoint_bytes = checkpoint_bytes
            - ifnull(length(OLD.checkpoint), 0) + ifnull(length(NEW.checkpoint), 0);
END;
"""


def open_file(path: Path) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600) the state database at *path*, schema ready."""
    try:
        return _open(path)
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode not in _CORRUPT_CODES:
            raise _unusable(path, exc) from exc
        moved = _move_aside(path)
        log.warning("state file %s is not a usable database (%s); moved to %s", path, exc, moved)
    try:
        return _open(path)
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from exc


def open_memory() -> sqlite3.Connection:
    """A private in-memory database with the same schema (the synchronous memory store)."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        _memory_only(conn)
        _prepare(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def open_shared_memory() -> tuple[sqlite3.Connection, sqlite3.Connection] | None:
    """(writer, reader): two connections to one new in-memory database, schema ready, for
    a writer thread beside readers (`persist_state = false`); None if this SQLite cannot
    share one (built without shared cache): the caller then writes synchronously.

    Memory has no WAL, so the reader cannot read a snapshot while the writer's transaction
    is open. The memdb VFS (`file:/name?vfs=memdb`) refuses a reader anything while a write
    transaction is open (SQLITE_BUSY until it commits). A shared cache with the reader in
    read-uncommitted mode takes no table locks: a read waits at most for the writer's
    current statement (the cache's mutex), never for its transaction, and may see that
    transaction's rows before it commits. The store reads single rows, and everything a
    batch writes is still queued (store/pending.py), where reads look first; what it
    removes goes anyway, so a read only sees that a few milliseconds early.

    The name is random (a shared in-memory database is visible to the whole process under
    its name) and nothing is on disk: not the database, its journal or temp tables."""
    uri = f"file:cursor-bridge-state-{secrets.token_hex(16)}?mode=memory&cache=shared"
    writer = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    reader: sqlite3.Connection | None = None
    try:
        _memory_only(writer)
        _prepare(writer)
        reader = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        _memory_only(reader)
        reader.execute("PRAGMA read_uncommitted = 1")
        # Without a shared cache the URI opens a second, empty database.
        (version,) = reader.execute("PRAGMA user_version").fetchone()
        (uncommitted,) = reader.execute("PRAGMA read_uncommitted").fetchone()
        if version == SCHEMA_VERSION and uncommitted == 1:
            return writer, reader
    except BaseException:
        writer.close()
        if reader is not None:
            reader.close()
        raise
    writer.close()
    reader.close()
    return None


def _open(path: Path) -> sqlite3.Connection:
    _create_private(path)
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
        )
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from exc
    try:
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        _prepare(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _memory_only(conn: sqlite3.Connection) -> None:
    """Temp tables, indices and sorts of an in-memory database stay in memory too
    (SQLite's default puts large ones in temp files)."""
    conn.execute("PRAGMA temp_store = MEMORY")


def _prepare(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version == 0:
            for statement in _statements(_DDL):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version > SCHEMA_VERSION:
            raise StateStoreError(
                f"state database schema {version} is newer than this cursor-bridge"
                f" understands ({SCHEMA_VERSION}); upgrade cursor-bridge or remove the file"
            )
        for statement in _statements(_ADDED):
            conn.execute(statement)
        # Touch the accounting row: reading it fails fast on a damaged file.
        conn.execute("SELECT blob_bytes FROM usage WHERE one = 1").fetchone()
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split the DDL into statements (triggers contain `;` inside BEGIN ... END)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    return out


def _create_private(path: Path) -> None:
    """Create the file 0600 before SQLite does (its journal files copy the file's mode).

    An existing file is never opened here: SQLite's locks are POSIX record locks, which a
    process loses on *every* descriptor of the file when it closes *any* one of them. A
    stray open/close would silently drop the locks of this process's other connections,
    and another process closing the database would then delete the WAL under them.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o077:
                os.chmod(path, mode & 0o700)
        else:
            os.close(fd)  # a brand-new file: no connection can hold locks on it yet
    except OSError as exc:
        raise StateStoreError(f"cannot open state file {path}: {exc.strerror or exc}") from exc


def _move_aside(path: Path) -> Path:
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, target)
    # The WAL belongs to the bad file; the shared-memory index is rebuilt from nothing.
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if suffix == "-wal" and side.exists():
            os.replace(side, target.with_name(target.name + suffix))
        else:
            with contextlib.suppress(FileNotFoundError):
                side.unlink()
    return target


def _unusable(path: Path, exc: sqlite3.Error) -> StateStoreError:
    return StateStoreError(f"cannot use state file {path}: {exc}")
