"""Settings come from defaults < config file < environment < flags; `config show` prints
them as TOML with their sources (secrets masked); the README's table is generated from the
Settings class, so it cannot drift."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cursor_bridge.cli import main
from cursor_bridge.config import Settings
from cursor_bridge.config_cli import TABLE_END, TABLE_START, readme_with_table, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def config_file() -> Path:
    return Path(os.environ["CURSOR_BRIDGE_CONFIG"])


def test_config_file_sits_between_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config_file().write_text('port = 9100\nhost = "0.0.0.0"\n[model_map]\n"claude-*" = "gpt-5.4"\n')
    monkeypatch.setenv("CURSOR_BRIDGE_PORT", "9200")
    settings = Settings()
    assert settings.host == "0.0.0.0"  # file beats default
    assert settings.port == 9200  # environment beats file
    assert settings.model_map == {"claude-*": "gpt-5.4"}
    assert Settings(port=9300).port == 9300  # flags beat both


def test_config_show_prints_toml_with_sources_and_masks_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_file().write_text(
        'log_level = "debug"\ncursor_chat_upstream_api_key = "sk-secret-1234567"\n'
    )
    monkeypatch.setenv("CURSOR_BRIDGE_PORT", "9201")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "sk-secret" not in result.output
    assert "port = 9201  # env CURSOR_BRIDGE_PORT" in result.output
    assert 'log_level = "debug"  # config file' in result.output
    assert 'host = "127.0.0.1"  # default' in result.output
    shown = tomllib.loads(result.output)  # what it prints is a valid config file
    assert shown["port"] == 9201 and shown["cursor_chat_upstream_api_key"] == "********"
    assert set(shown) | {
        "agent_url",
        "website_url",
        "client_version",
        "workspace",
        "state_path",
        "redis_url",
    } >= set(Settings.model_fields) - {"cursor_chat_upstream_api_key"}


def test_config_option_names_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("port = 9444\n")
    result = CliRunner().invoke(main, ["--config", str(other), "config", "show"])
    assert result.exit_code == 0, result.output
    assert (
        f"# config file: {other}" in result.output and "port = 9444  # config file" in result.output
    )
    missing = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.toml"), "config", "show"])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_every_setting_is_described_and_in_the_readme_table() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
    readme = README.read_text()
    assert TABLE_START in readme and TABLE_END in readme
    assert readme_with_table(readme) == readme, (
        "README.md's settings table is stale: run `sh scripts/uv.sh run python -m "
        "cursor_bridge.config_cli`"
    )
    table = settings_table()
    for name in Settings.model_fields:
        assert f"`CURSOR_BRIDGE_{name.upper()}`" in table


def test_config_show_masks_the_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_BRIDGE_REDIS_URL", "redis://:hunter2@127.0.0.1:6379/0")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and 'redis_url = "********"' in result.output
    assert Settings().redis == "redis://:hunter2@127.0.0.1:6379/0"
