"""Client API keys: who may use this bridge (not to be confused with the Cursor login).

Keys are random (`cbk_` + 32 random bytes, URL-safe), so a plain SHA-256 of each is enough
to store: nobody can brute-force 256 bits, and a stolen file reveals no usable key. The
file (`$CURSOR_BRIDGE_HOME/client_keys.json`, mode 0600, written atomically) holds only
digests, names and creation times. Keys may also come from the environment or the config
file (`ClientKeys(extra=...)`); those are hashed in memory on start.

The server asks `ClientKeys.check(presented)` (required? which keys match?) on every
request; the file is re-read when it changes, so `keys create` / `keys revoke` take effect
on a running server at once (requests that start in the same loop iteration share one
`stat`, auth/loop_stat.py: a request sent after the change sees it). `match` compares
digests with `hmac.compare_digest` against every key, never stopping early, so timing
reveals nothing about which bytes matched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..auth.loop_stat import LoopStat
from ..paths import bridge_home, write_private

KEY_PREFIX = "cbk_"
FILE_NAME = "client_keys.json"
# The environment variable whose comma-separated keys are accepted besides the file's.
ENV_KEYS = "CURSOR_BRIDGE_API_KEYS"


@dataclass(frozen=True, slots=True)
class ClientKey:
    """One accepted key, without the key itself. `source` is "file", "env" or "config"."""

    id: str
    name: str
    digest: str
    hint: str
    created: float
    source: str = "file"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class ClientKeyFileError(Exception):
    """The key file exists but cannot be read as a key file (the user must look at it)."""


class ClientKeyStore:
    """The key file: create, list and revoke keys (the CLI's `keys` commands)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else bridge_home() / FILE_NAME

    def load(self) -> list[ClientKey]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ClientKeyFileError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        try:
            entries = json.loads(raw)["keys"]
            return [ClientKey(**{**entry, "source": "file"}) for entry in entries]
        except (ValueError, KeyError, TypeError) as exc:
            raise ClientKeyFileError(f"{self.path} is not a client key file: {exc}") from exc

    def create(self, name: str = "") -> tuple[str, ClientKey]:
        """A new key: returns the key itself (shown once, never stored) and its record."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ClientKey(
            id=secrets.token_hex(4),
            name=name or f"key-{time.strftime('%Y%m%d-%H%M%S')}",
            digest=digest(key),
            hint=key[: len(KEY_PREFIX) + 4] + "…",
            created=time.time(),
        )
        self._save([*self.load(), record])
        return key, record

    def revoke(self, id_or_name: str) -> list[ClientKey]:
        """Remove the keys with this id or name; returns what was removed."""
        keys = self.load()
        gone = [k for k in keys if id_or_name in (k.id, k.name)]
        if gone:
            self._save([k for k in keys if k not in gone])
        return gone

    def _save(self, keys: list[ClientKey]) -> None:
        entries = [{k: v for k, v in asdict(key).items() if k != "source"} for key in keys]
        data = json.dumps({"version": 1, "keys": entries}, indent=2).encode()
        write_private(self.path, data + b"\n")


class ClientKeys:
    """Every key the server accepts: the file's (re-read when it changes) plus *extra* ones
    given in plain text (environment, config file)."""

    def __init__(
        self, store: ClientKeyStore | None = None, extra: Iterable[str] = (), source: str = "env"
    ) -> None:
        self.store = store
        self._extra = [
            ClientKey(f"{source}-{n}", f"{source} key {n}", digest(k), "", 0.0, source)
            for n, k in enumerate(dict.fromkeys(k.strip() for k in extra if k.strip()), 1)
        ]
        self._file_keys: list[ClientKey] = []
        self._seen: tuple[int, int, int] | None = None
        self._file = LoopStat(store.path) if store is not None else None

    @classmethod
    def from_environment(cls, configured: Iterable[str] = ()) -> ClientKeys:
        """The file under CURSOR_BRIDGE_HOME, CURSOR_BRIDGE_API_KEYS and *configured* keys."""
        from_env = os.environ.get(ENV_KEYS, "").split(",")
        return cls(ClientKeyStore(), [*from_env, *configured])

    def keys(self) -> list[ClientKey]:
        return [*self._current_file_keys(), *self._extra]

    def required(self) -> bool:
        """Once any key exists, every request needs one."""
        return bool(self._extra) or bool(self._current_file_keys())

    def match(self, presented: str) -> ClientKey | None:
        return _match(presented, self.keys())

    def check(self, presented: Iterable[str]) -> tuple[bool, list[ClientKey]]:
        """`required()` and the matches among *presented*, from one look at the file (one
        `stat` per request instead of one per question)."""
        keys = self.keys()
        return bool(keys), matches(presented, keys)

    def _current_file_keys(self) -> list[ClientKey]:
        if self.store is None or self._file is None:
            return []
        if self._file.path is not self.store.path:  # the store was pointed elsewhere
            self._file = LoopStat(self.store.path)
        info = self._file.stat()
        seen = (info.st_mtime_ns, info.st_size, info.st_ino) if info is not None else None
        if seen != self._seen:
            # A broken file must not open the door: ClientKeyFileError reaches the caller.
            self._file_keys = self.store.load() if seen is not None else []
            self._seen = seen
        return self._file_keys


def matches(presented: Iterable[str], keys: list[ClientKey]) -> list[ClientKey]:
    """The keys among *keys* that the *presented* ones match (each compared with all)."""
    return [key for key in (_match(p, keys) for p in presented) if key is not None]


def _match(presented: str, keys: list[ClientKey]) -> ClientKey | None:
    """The first key whose digest is *presented*'s, comparing against every key."""
    wanted = digest(presented)
    found: ClientKey | None = None
    for key in keys:
        if hmac.compare_digest(wanted, key.digest) and found is None:
            found = key
    return found
