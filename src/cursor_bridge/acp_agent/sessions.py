"""ACP sessions: what one editor conversation holds, kept on disk so `session/load` works.

A session is the folders it may touch, the chosen model and mode, and the conversation as
plain user/assistant text. The backend keeps the rest (tool rounds, thinking) in its own
checkpoint, which the bridge's state store finds again from that history. Files live in
`$CURSOR_BRIDGE_HOME/acp-sessions/<id>.json`, written atomically with mode 0600.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..engine.request import ChatMessage
from ..paths import bridge_home, write_private

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class SessionRecord:
    session_id: str
    cwd: str
    roots: list[str]
    model: str
    mode: str = "ask"
    history: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def new(cls, cwd: str, roots: list[str], model: str, mode: str) -> SessionRecord:
        return cls(f"sess_{uuid.uuid4().hex}", cwd, roots, model, mode)

    def messages(self) -> tuple[ChatMessage, ...]:
        return tuple(
            ChatMessage("user" if m["role"] == "user" else "assistant", m["text"])
            for m in self.history
        )

    def add(self, role: str, text: str) -> None:
        self.history.append({"role": role, "text": text})


class SessionStore:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or bridge_home() / "acp-sessions"

    def save(self, record: SessionRecord) -> None:
        data = json.dumps(asdict(record), ensure_ascii=False).encode()
        write_private(self._path(record.session_id), data)

    def load(self, session_id: str) -> SessionRecord | None:
        if not _ID.match(session_id):
            return None
        try:
            raw: Any = json.loads(self._path(session_id).read_text(encoding="utf-8"))
            record = SessionRecord(**raw)
        except (OSError, ValueError, TypeError):
            return None
        valid = all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("text"), str)
            for m in record.history
        )
        return record if valid and record.session_id == session_id else None

    def _path(self, session_id: str) -> Path:
        return self.folder / f"{session_id}.json"
