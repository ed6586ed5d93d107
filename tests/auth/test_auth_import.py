"""Importing credentials from the Cursor IDE's state.vscdb and the cursor-agent CLI."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cursor_bridge.auth import (
    CredentialsNotFound,
    TokenStore,
    import_cursor_agent,
    import_cursor_ide,
)
from cursor_bridge.auth.importers import cursor_agent_files, cursor_ide_databases
from cursor_bridge.cli import main
from cursor_bridge.emulator import EmulatorOptions
from tests.support.threaded_emulator import ThreadedEmulator, threaded_emulator


def make_vscdb(path: Path, items: dict[str, str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
        db.executemany("INSERT INTO ItemTable VALUES (?, ?)", list(items.items()))
        db.execute("INSERT INTO ItemTable VALUES ('workbench.other', 'x')")
    return path


def test_reads_ide_tokens_and_email(tmp_path: Path) -> None:
    db = make_vscdb(
        tmp_path / "state.vscdb",
        {
            "cursorAuth/accessToken": "acc",
            "cursorAuth/refreshToken": b"ref",  # a BLOB value
            "cursorAuth/cachedEmail": '"me@example.com"',  # a JSON-quoted value
        },
    )
    before = db.read_bytes()
    found = import_cursor_ide(db)
    assert (found.access_token, found.refresh_token, found.email) == (
        "acc",
        "ref",
        "me@example.com",
    )
    assert found.source == str(db)
    assert db.read_bytes() == before, "opened read-only"


def test_reads_the_older_token_key(tmp_path: Path) -> None:
    db = make_vscdb(tmp_path / "state.vscdb", {"cursorAuth/token": "old"})
    assert import_cursor_ide(db).access_token == "old"


def test_ide_default_locations_per_os(tmp_path: Path) -> None:
    home = tmp_path
    linux = cursor_ide_databases("linux", {}, home)
    assert linux[0] == home / ".config/Cursor/User/globalStorage/state.vscdb"
    assert linux[1] == home / ".config/cursor/User/globalStorage/state.vscdb"
    mac = cursor_ide_databases("darwin", {}, home)
    assert mac == [home / "Library/Application Support/Cursor/User/globalStorage/state.vscdb"]
    win = cursor_ide_databases("win32", {"APPDATA": "C:/AppData"}, home)
    assert win[0] == Path("C:/AppData/Cursor/User/globalStorage/state.vscdb")
    make_vscdb(linux[1], {"cursorAuth/accessToken": "found-in-lowercase"})
    found = import_cursor_ide(platform="linux", env={}, home=home)
    assert found.access_token == "found-in-lowercase"


def test_clear_message_when_nothing_is_found(tmp_path: Path) -> None:
    with pytest.raises(CredentialsNotFound, match="no Cursor IDE login found"):
        import_cursor_ide(platform="linux", env={}, home=tmp_path)
    empty = make_vscdb(tmp_path / "empty.vscdb", {})
    with pytest.raises(CredentialsNotFound, match="--path"):
        import_cursor_ide(empty)
    junk = tmp_path / "junk.vscdb"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CredentialsNotFound, match="not a Cursor state database"):
        import_cursor_ide(junk)


def test_reads_cursor_agent_auth_json(tmp_path: Path) -> None:
    files = cursor_agent_files("linux", {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}, tmp_path)
    assert files == [tmp_path / "cfg/cursor/auth.json"]
    files[0].parent.mkdir(parents=True)
    files[0].write_text(json.dumps({"accessToken": "a", "refreshToken": "r", "apiKey": "crsr_k"}))
    found = import_cursor_agent(platform="linux", env={"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert (found.access_token, found.refresh_token, found.api_key) == ("a", "r", "crsr_k")
    assert "crsr_k" not in repr(found)


def test_cursor_agent_keychain_on_macos(tmp_path: Path) -> None:
    entries = {"cursor-access-token": "ka", "cursor-refresh-token": "kr"}
    found = import_cursor_agent(platform="darwin", keychain=entries.get, home=tmp_path)
    assert (found.access_token, found.refresh_token, found.api_key) == ("ka", "kr", "")
    with pytest.raises(CredentialsNotFound, match="macOS Keychain"):
        import_cursor_agent(platform="darwin", keychain=lambda _: None, home=tmp_path)


@pytest.fixture
def emulator() -> Iterator[ThreadedEmulator]:
    with threaded_emulator(EmulatorOptions(require_auth=True, token_lifetime=600)) as emu:
        yield emu


def test_cli_import_from_ide_then_serve_account(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    pair = emulator.server.auth.issue()
    db = make_vscdb(
        tmp_path / "state.vscdb",
        {
            "cursorAuth/accessToken": pair.access_token,
            "cursorAuth/refreshToken": pair.refresh_token,
            "cursorAuth/cachedEmail": "ide@example.com",
        },
    )
    runner = CliRunner()
    result = runner.invoke(
        main, ["login", "--import", "cursor", "--path", str(db), "--backend-url", emulator.url]
    )
    assert result.exit_code == 0, result.output
    assert "as ide@example.com (import:cursor)" in result.output
    assert pair.access_token not in result.output
    status = runner.invoke(main, ["status", "--json", "--backend-url", emulator.url])
    report = json.loads(status.stdout)
    assert report["account"]["method"] == "import:cursor"
    assert report["account"]["email"] == "ide@example.com"
    assert report["backend"]["token_accepted"] is True


def test_cli_import_refreshes_an_expired_agent_token(
    emulator: ThreadedEmulator, tmp_path: Path
) -> None:
    pair = emulator.server.auth.issue()
    emulator.advance_clock(-3600)  # issue a token that is already expired
    stale = emulator.server.auth.issue()
    emulator.advance_clock(3600)
    auth_json = tmp_path / "auth.json"
    auth_json.write_text(
        json.dumps({"accessToken": stale.access_token, "refreshToken": pair.refresh_token})
    )
    result = CliRunner().invoke(
        main,
        [
            "login",
            "--import",
            "cursor-agent",
            "--path",
            str(auth_json),
            "--backend-url",
            emulator.url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert emulator.counters.refreshes == 1
    found = TokenStore().current(emulator.url)
    assert found is not None and found[1].access_token != stale.access_token
    assert found[1].method == "import:cursor-agent"


def test_cli_import_with_nothing_found_fails_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "login",
            "--import",
            "cursor",
            "--path",
            str(tmp_path / "missing.vscdb"),
            "--backend-url",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 1
    assert "no Cursor IDE login found" in result.output
