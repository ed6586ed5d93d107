"""Choosing the upstream of /cursor/chat/completions from settings (env CURSOR_BRIDGE_*)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cursor_bridge.cli import main
from cursor_bridge.compose import cursor_chat_upstream
from cursor_bridge.config import Settings


def test_default_upstream_is_this_bridges_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CURSOR_BRIDGE_CURSOR_CHAT_UPSTREAM", raising=False)
    assert cursor_chat_upstream(Settings()) is None


async def test_base_url_and_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_BRIDGE_CURSOR_CHAT_UPSTREAM", "http://litellm.local:4000/v1/")
    monkeypatch.setenv("CURSOR_BRIDGE_CURSOR_CHAT_UPSTREAM_API_KEY", "sk-very-secret")
    settings = Settings()
    assert "sk-very-secret" not in repr(settings)
    upstream = cursor_chat_upstream(settings)
    assert upstream is not None
    try:
        assert upstream.url == "http://litellm.local:4000/v1/chat/completions"
        assert upstream.config.api_key == "sk-very-secret"
        assert "sk-very-secret" not in repr(upstream.config)
    finally:
        await upstream.aclose()


def test_a_bad_upstream_setting_is_a_clear_cli_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_BRIDGE_CURSOR_CHAT_UPSTREAM", "litellm.local:4000")
    result = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert result.exit_code != 0
    assert "CURSOR_BRIDGE_CURSOR_CHAT_UPSTREAM" in result.output
    assert "http(s)://" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
