"""The token store: one JSON file per account under `<bridge home>/accounts/`, mode 0600.

An account belongs to one backend (Cursor's API, or an emulator URL), so `serve
--backend-url URL` finds the account logged in there. The module owning these files is the
only one that reads them. Secrets never appear in `repr()` (tracebacks and logs stay clean).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..paths import bridge_home, write_private
from ..protocol.auth import TokenPair
from .claims import expires_at
from .loop_stat import LoopStat

log = logging.getLogger(__name__)

METHODS = ("browser", "api-key", "import:cursor", "import:cursor-agent", "token")


def normalize_backend(url: str) -> str:
    """One spelling per backend: lower-case scheme and host, no trailing slash."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


@dataclass(frozen=True, slots=True)
class Account:
    """A logged-in Cursor account. `method` says how: one of METHODS."""

    backend_url: str
    account_id: str
    method: str
    access_token: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    email: str = ""
    logged_in_at: float = 0.0
    refreshed_at: float = 0.0
    # The name given with `login --label` (accounts of a pool are told apart by it).
    name: str = ""

    @property
    def expires_at(self) -> float | None:
        return expires_at(self.access_token)

    @property
    def label(self) -> str:
        return self.name or self.email or self.account_id

    def with_tokens(self, pair: TokenPair, *, now: float | None = None) -> Account:
        """This account after a refresh (a response without a refresh token keeps ours)."""
        return replace(
            self,
            access_token=pair.access_token,
            refresh_token=pair.refresh_token or self.refresh_token,
            refreshed_at=time.time() if now is None else now,
        )

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Account:
        raw: Any = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        for required in ("backend_url", "account_id", "method", "access_token"):
            if not isinstance(values.get(required), str) or not values[required]:
                raise ValueError(f"missing {required}")
        return cls(**values)


class TokenStore:
    """Account files in one directory (default `<bridge home>/accounts`)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or bridge_home() / "accounts"
        self._folder = LoopStat(self.directory)

    def stamp(self) -> int | None:
        """Changes whenever a login or logout renames a file in or out (the folder's mtime).
        Looked at once per loop iteration at most (loop_stat.py): every turn asks."""
        if self._folder.path is not self.directory:
            self._folder = LoopStat(self.directory)
        try:
            info = self._folder.stat()
        except OSError:
            return None
        return info.st_mtime_ns if info is not None else None

    def path_for(self, backend_url: str, account_id: str) -> Path:
        backend = normalize_backend(backend_url)
        host = re.sub(r"[^a-z0-9.-]+", "_", urlsplit(backend).netloc) or "backend"
        digest = hashlib.sha256(f"{backend}\n{account_id}".encode()).hexdigest()[:16]
        return self.directory / f"{host}-{digest}.json"

    def save(self, account: Account) -> Path:
        account = replace(account, backend_url=normalize_backend(account.backend_url))
        path = self.path_for(account.backend_url, account.account_id)
        write_private(path, account.to_json())
        return path

    def load(self, path: Path) -> Account:
        return Account.from_json(path.read_bytes())

    def accounts(self, backend_url: str | None = None) -> list[tuple[Path, Account]]:
        """Stored accounts (for one backend if given), most recently logged in first."""
        if not self.directory.is_dir():
            return []
        wanted = normalize_backend(backend_url) if backend_url else None
        found: list[tuple[Path, Account]] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                account = self.load(path)
            except (OSError, ValueError, TypeError) as exc:
                log.warning("ignoring unreadable account file %s: %s", path.name, exc)
                continue
            if wanted is None or normalize_backend(account.backend_url) == wanted:
                found.append((path, account))
        found.sort(key=lambda item: item[1].logged_in_at, reverse=True)
        return found

    def current(self, backend_url: str) -> tuple[Path, Account] | None:
        """The account `serve` uses for *backend_url*: the latest login there."""
        accounts = self.accounts(backend_url)
        return accounts[0] if accounts else None

    def remove(self, path: Path) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def remove_all(self) -> int:
        """Delete every account file (unreadable ones too); returns how many."""
        if not self.directory.is_dir():
            return 0
        removed = 0
        for path in self.directory.glob("*.json"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
        return removed
