"""The token store: one 0600 file per account, atomic writes, no secrets in repr; claims."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import jwt

from cursor_bridge.auth import (
    Account,
    TokenStore,
    expires_at,
    mask,
    save_login,
    subject,
)
from cursor_bridge.paths import bridge_home
from cursor_bridge.protocol.auth import TokenPair


def make_jwt(sub: str = "auth0|user_1", exp: float | None = None) -> str:
    claims: dict[str, object] = {"sub": sub}
    if exp is not None:
        claims["exp"] = int(exp)
    return jwt.encode(claims, "a-test-key-that-is-not-cursors-own-signing-key", algorithm="HS256")


def test_claims_are_read_without_the_signing_key() -> None:
    token = make_jwt("auth0|user_42", exp=2_000_000_000)
    assert subject(token) == "auth0|user_42"
    assert expires_at(token) == 2_000_000_000
    assert expires_at("opaque-token") is None and subject("opaque") is None
    assert expires_at(make_jwt()) is None


def test_mask_shows_only_a_prefix() -> None:
    token = make_jwt()
    assert mask(token) == token[:6] + "…"
    assert mask("short") == "…" and mask("") == "(none)"


def test_save_writes_0600_file_in_0700_dir_and_round_trips() -> None:
    store = TokenStore()
    pair = TokenPair(make_jwt(exp=time.time() + 60), "refresh-secret")
    account = save_login(store, "HTTP://Emu:1/", pair, "browser", api_key="crsr_k", email="a@b")
    path = store.path_for(account.backend_url, account.account_id)
    assert path.parent == bridge_home() / "accounts"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = store.load(path)
    assert loaded == account
    assert loaded.backend_url == "http://emu:1"
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temp files left behind"


def test_repr_never_shows_secrets() -> None:
    account = Account("http://x", "id", "browser", "ACCESS-SECRET", "REFRESH-SECRET", "crsr_KEY")
    text = repr(account)
    assert "ACCESS-SECRET" not in text and "REFRESH-SECRET" not in text and "crsr_KEY" not in text


def test_one_file_per_account_and_backend_latest_login_is_current() -> None:
    store = TokenStore()
    first = save_login(store, "http://emu:1", TokenPair(make_jwt("a"), "r"), "browser")
    second = save_login(store, "http://emu:1", TokenPair(make_jwt("b"), "r"), "api-key")
    other = save_login(store, "http://emu:2", TokenPair(make_jwt("a"), "r"), "browser")
    assert len(store.accounts()) == 3
    current = store.current("http://emu:1/")
    assert current is not None and current[1].account_id == second.account_id
    again = save_login(store, "http://emu:1", TokenPair(make_jwt("a"), "r2"), "browser")
    assert len(store.accounts()) == 3, "logging in again replaces that account's file"
    current = store.current("http://emu:1")
    assert current is not None and current[1] == again
    assert first.account_id == again.account_id and other.backend_url == "http://emu:2"
    assert store.remove(current[0]) and not store.remove(current[0])
    assert store.remove_all() == 2 and store.accounts() == []


def test_unreadable_files_are_skipped(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    save_login(store, "http://emu:1", TokenPair(make_jwt(), ""), "browser")
    assert len(store.accounts()) == 1
    assert store.remove_all() == 2


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    from cursor_bridge.paths import write_private

    target = tmp_path / "sub" / "file.json"
    write_private(target, b"one")
    inode = target.stat().st_ino
    write_private(target, b"two")
    assert target.read_bytes() == b"two"
    assert target.stat().st_ino != inode, "a new file is renamed over the old one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(target.parent) == ["file.json"]
