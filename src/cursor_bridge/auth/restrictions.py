"""Per-key limits: which accounts and models a proxy API key may use.

A restriction is data attached to a key id (the id the key store gives a key, never the
secret), kept in one 0600 JSON file beside the keys. The account pool asks
`allows_account`, the engine `allows_model`; a key without an entry may use everything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..paths import bridge_home, write_private

if TYPE_CHECKING:
    from .pool import PoolMember

RESTRICTIONS_FILE = "key-restrictions.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Restriction:
    """What one proxy API key may use: account ids or labels, model names (None: any)."""

    accounts: frozenset[str] | None = None
    models: frozenset[str] | None = None

    def allows_account(self, member: PoolMember) -> bool:
        return self.accounts is None or bool({member.account_id, member.label} & self.accounts)

    def allows_model(self, *names: str) -> bool:
        """Whether any of *names* (the requested name, the resolved Cursor id) is allowed."""
        return self.models is None or any(name in self.models for name in names)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Restriction:
        def names(value: object) -> frozenset[str] | None:
            if value is None:
                return None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("a restriction lists names as a JSON array of strings")
            return frozenset(value)

        return cls(names(raw.get("accounts")), names(raw.get("models")))

    def to_json(self) -> dict[str, list[str] | None]:
        return {
            "accounts": sorted(self.accounts) if self.accounts is not None else None,
            "models": sorted(self.models) if self.models is not None else None,
        }


class RestrictionStore:
    """Restrictions by key id in `<bridge home>/key-restrictions.json` (re-read on change)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or bridge_home() / RESTRICTIONS_FILE
        self._seen: tuple[int, int] | None = None
        self._cache: dict[str, Restriction] = {}

    def get(self, key_id: str) -> Restriction | None:
        return self._load().get(key_id)

    def set(self, key_id: str, restriction: Restriction) -> None:
        entries = dict(self._load())
        entries[key_id] = restriction
        self._write(entries)

    def remove(self, key_id: str) -> bool:
        entries = dict(self._load())
        if entries.pop(key_id, None) is None:
            return False
        self._write(entries)
        return True

    def all(self) -> dict[str, Restriction]:
        return dict(self._load())

    def _write(self, entries: Mapping[str, Restriction]) -> None:
        body = {key: r.to_json() for key, r in sorted(entries.items())}
        write_private(self.path, json.dumps(body, indent=2).encode())

    def _load(self) -> dict[str, Restriction]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._seen, self._cache = None, {}
            return self._cache
        seen = (info.st_mtime_ns, info.st_size)
        if seen != self._seen:
            raw: Any = json.loads(self.path.read_bytes())
            if not isinstance(raw, dict):
                raise ValueError(f"{self.path}: not a JSON object")
            self._cache = {str(k): Restriction.from_json(v) for k, v in raw.items()}
            self._seen = seen
        return self._cache


KeyRestriction = tuple[str | None, Restriction | None]


def restriction_lookup(store: RestrictionStore) -> Callable[[Any], KeyRestriction]:
    """For the request log: the caller's key id (set in the ASGI scope's state as
    `client_key`, with an `id`, by the client-key check) and its restriction. An unreadable
    restrictions file denies every account (fail closed) and says why in the log."""

    def lookup(scope: Any) -> KeyRestriction:
        key = scope.get("state", {}).get("client_key")
        key_id = getattr(key, "id", None)
        if not isinstance(key_id, str):
            return None, None
        try:
            return key_id, store.get(key_id)
        except (OSError, ValueError) as exc:
            log.error("cannot read %s (%s): refusing key %s every account", store.path, exc, key_id)
            return key_id, Restriction(accounts=frozenset())

    return lookup
