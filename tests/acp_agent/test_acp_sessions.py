"""ACP sessions on disk: private files, exact round trip, hostile content refused."""

from __future__ import annotations

import stat
from pathlib import Path

from cursor_bridge.acp_agent.sessions import SessionRecord, SessionStore


def test_round_trip_in_a_private_file(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    record = SessionRecord.new("/w", ["/w", "/x"], "gpt-5.4", "ask")
    record.add("user", "hi")
    record.add("assistant", "hello")
    store.save(record)
    path = tmp_path / f"{record.session_id}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = store.load(record.session_id)
    assert loaded == record
    assert [m.role for m in loaded.messages()] == ["user", "assistant"]


def test_bad_ids_and_tampered_files_load_nothing(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    assert store.load("../../etc/passwd") is None
    assert store.load("missing") is None
    (tmp_path / "s1.json").write_text(
        '{"session_id": "s1", "cwd": "/", "roots": ["/"], "model": "m", "history": "not a list"}'
    )
    assert store.load("s1") is None
    (tmp_path / "s2.json").write_text(
        '{"session_id": "other", "cwd": "/", "roots": ["/"], "model": "m"}'
    )
    assert store.load("s2") is None
    (tmp_path / "s3.json").write_text("[1, 2]")
    assert store.load("s3") is None
