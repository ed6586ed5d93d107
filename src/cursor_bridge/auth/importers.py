"""Reading credentials that Cursor's own apps already stored (exec-auth-models.md §2.5).

- Cursor IDE: SQLite `User/globalStorage/state.vscdb`, table `ItemTable(key, value)`, keys
  `cursorAuth/accessToken` (older: `cursorAuth/token`), `cursorAuth/refreshToken`,
  `cursorAuth/cachedEmail`. Opened read-only; the running IDE may hold a lock, so a locked
  database is retried as `immutable` (no locking, what peers do).
- cursor-agent CLI: `auth.json` `{accessToken, refreshToken, apiKey?}` in its config folder
  (Linux `$XDG_CONFIG_HOME/cursor`, Windows `%APPDATA%\\Cursor`, macOS file mode
  `~/.cursor`), or on macOS the login Keychain (account `cursor-user`, services
  `cursor-access-token`, `cursor-refresh-token`, `cursor-api-key`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCESS_KEYS = ("cursorAuth/accessToken", "cursorAuth/token")
REFRESH_KEY = "cursorAuth/refreshToken"
EMAIL_KEY = "cursorAuth/cachedEmail"
KEYCHAIN_ACCOUNT = "cursor-user"
SECURITY_TOOL = "/usr/bin/security"
KEYCHAIN_SERVICES = {
    "access": "cursor-access-token",
    "refresh": "cursor-refresh-token",
    "api_key": "cursor-api-key",
}


class CredentialsNotFound(Exception):
    """Nothing usable was found; the message lists where we looked."""


@dataclass(frozen=True, slots=True)
class ImportedCredentials:
    """What was found. `access_token` is empty when only an API key was stored."""

    access_token: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    email: str = ""
    source: str = ""


# -- Cursor IDE ---------------------------------------------------------------------------


def cursor_ide_databases(
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
) -> list[Path]:
    """Where the IDE's global state database lives on this OS (most likely first)."""
    home = home or Path.home()
    if platform == "darwin":
        roots = [home / "Library" / "Application Support" / "Cursor"]
    elif platform.startswith("win"):
        appdata = env.get("APPDATA")
        roots = [Path(appdata) / "Cursor"] if appdata else []
        roots.append(home / "AppData" / "Roaming" / "Cursor")
    else:
        config = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
        # The IDE's folder is usually "Cursor"; the restored CLI writes "cursor": check both.
        roots = [config / "Cursor", config / "cursor"]
    return [root / "User" / "globalStorage" / "state.vscdb" for root in roots]


def import_cursor_ide(path: Path | None = None, **where: Any) -> ImportedCredentials:
    """Tokens from the Cursor IDE's `state.vscdb` (*path*, else the OS's default places)."""
    candidates = [path] if path is not None else cursor_ide_databases(**where)
    for candidate in candidates:
        if not candidate.is_file():
            continue
        values = _read_items(candidate, (*ACCESS_KEYS, REFRESH_KEY, EMAIL_KEY))
        access = next((values[k] for k in ACCESS_KEYS if values.get(k)), "")
        if access:
            return ImportedCredentials(
                access_token=access,
                refresh_token=values.get(REFRESH_KEY, ""),
                email=values.get(EMAIL_KEY, ""),
                source=str(candidate),
            )
    looked = ", ".join(str(c) for c in candidates)
    raise CredentialsNotFound(
        f"no Cursor IDE login found (looked in {looked}); sign in to Cursor first, or pass "
        "the database with --path"
    )


def _read_items(path: Path, keys: tuple[str, ...]) -> dict[str, str]:
    """Read *keys* from ItemTable without writing or locking the IDE's database."""
    marks = ",".join("?" * len(keys))
    query = f"SELECT key, value FROM ItemTable WHERE key IN ({marks})"
    rows: list[tuple[Any, Any]] = []
    for mode in ("mode=ro", "mode=ro&immutable=1"):
        try:
            with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?{mode}", uri=True)) as db:
                rows = db.execute(query, keys).fetchall()
            break
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) and "immutable" not in mode:
                continue  # the IDE holds a lock: read the file as it is
            raise CredentialsNotFound(f"cannot read {path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise CredentialsNotFound(f"{path} is not a Cursor state database: {exc}") from None
    return {str(key): _text(value) for key, value in rows if _text(value)}


def _text(value: object) -> str:
    """An ItemTable value as text; some values are stored JSON-quoted or as BLOBs."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if value.startswith('"'):
        with contextlib.suppress(json.JSONDecodeError):
            decoded = json.loads(value)
            if isinstance(decoded, str):
                return decoded
    return value


# -- cursor-agent CLI ---------------------------------------------------------------------


def cursor_agent_files(
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
) -> list[Path]:
    """Where the cursor-agent CLI keeps `auth.json` on this OS."""
    home = home or Path.home()
    if platform.startswith("win"):
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return [base / "Cursor" / "auth.json"]
    if platform == "darwin":
        return [home / ".cursor" / "auth.json"]
    config = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return [config / "cursor" / "auth.json"]


KeychainReader = Callable[[str], str | None]


def read_macos_keychain(service: str) -> str | None:
    """One generic password of the cursor-agent CLI from the macOS login Keychain."""
    try:
        result = subprocess.run(
            [SECURITY_TOOL, "find-generic-password", "-a", KEYCHAIN_ACCOUNT, "-s", service, "-w"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = result.stdout.strip()
    return value if result.returncode == 0 and value else None


def import_cursor_agent(
    path: Path | None = None,
    *,
    platform: str = sys.platform,
    keychain: KeychainReader = read_macos_keychain,
    **where: Any,
) -> ImportedCredentials:
    """Tokens of the cursor-agent CLI: its `auth.json` (*path*, else the OS's default), and
    on macOS its Keychain entries."""
    candidates = [path] if path is not None else cursor_agent_files(platform=platform, **where)
    for candidate in candidates:
        if not candidate.is_file():
            continue
        try:
            raw: Any = json.loads(candidate.read_bytes())
        except (OSError, ValueError) as exc:
            raise CredentialsNotFound(f"cannot read {candidate}: {exc}") from None
        if isinstance(raw, dict):
            found = _from_agent_json(raw, str(candidate))
            if found is not None:
                return found
    if path is None and platform == "darwin":
        access = keychain(KEYCHAIN_SERVICES["access"])
        if access:
            return ImportedCredentials(
                access_token=access,
                refresh_token=keychain(KEYCHAIN_SERVICES["refresh"]) or "",
                api_key=keychain(KEYCHAIN_SERVICES["api_key"]) or "",
                source="macOS Keychain (cursor-user)",
            )
    looked = ", ".join(str(c) for c in candidates)
    if path is None and platform == "darwin":
        looked += ", the macOS Keychain"
    raise CredentialsNotFound(
        f"no cursor-agent login found (looked in {looked}); run `cursor-agent login` first, "
        "or pass its auth.json with --path"
    )


def _from_agent_json(raw: dict[str, Any], source: str) -> ImportedCredentials | None:
    access, refresh, key = raw.get("accessToken"), raw.get("refreshToken"), raw.get("apiKey")
    access = access if isinstance(access, str) else ""
    if not access and not (isinstance(key, str) and key):
        return None
    return ImportedCredentials(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) else "",
        api_key=key if isinstance(key, str) else "",
        source=source,
    )
