"""`cursor-bridge config`: the settings in force and where each came from, and the settings
table of the README, both generated from the `Settings` class."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from .config import ENVIRONMENT_ONLY, Settings, config_path, env_name


@click.group()
def config() -> None:
    """Show the settings in force (config file, environment, defaults)."""


@config.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(as_json: bool) -> None:
    """Every setting with its value and source (secrets masked); prints valid TOML."""
    settings = Settings()
    path = config_path()
    in_file = _file_keys(path)
    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if os.environ.get(env_name(name)) is not None:
            source = f"env {env_name(name)}"
        elif name in in_file:
            source = "config file"
        else:
            source = "default"
        rows.append((name, value, source))
    if as_json:
        report = {
            "config_file": str(path),
            "config_file_exists": path.is_file(),
            "settings": {n: {"value": _plain(v), "source": s} for n, v, s in rows},
        }
        click.echo(json.dumps(report, indent=2))
        return
    exists = "" if path.is_file() else " (not present: defaults and environment only)"
    click.echo(f"# config file: {path}{exists}")
    for name, value, source in rows:
        if value is None:
            click.echo(f"# {name} = (unset)  # {source}")
        else:
            click.echo(f"{name} = {toml_value(value)}  # {source}")


@config.command()
def path() -> None:
    """Print the config file's path (it may not exist yet)."""
    click.echo(str(config_path()))


def _file_keys(path: Path) -> set[str]:
    try:
        return set(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError):
        return set()


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "********"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def toml_value(value: Any) -> str:
    """One value in TOML syntax (secrets masked)."""
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(str(value))


# -- the README's table ---------------------------------------------------------------------


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None:
        return "(none)"
    if isinstance(value, float) and value.is_integer() and value >= 3600:
        return f"`{int(value)}`"
    return f"`{toml_value(value)}`"


def settings_table() -> str:
    """The Markdown table of every setting (README.md, section Configuration)."""
    lines = [
        "| setting (config file) | environment variable | default | what it does |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | `{env_name(name)}` | {_default(field)} | {description} |")
    for variable, (default, description) in ENVIRONMENT_ONLY.items():
        lines.append(f"| (environment only) | `{variable}` | {default} | {description} |")
    return "\n".join(lines)


TABLE_START = "<!-- settings-table:start (generated: python -m cursor_bridge.config_cli) -->"
TABLE_END = "<!-- settings-table:end -->"


def readme_with_table(readme: str) -> str:
    """*readme* with the text between the table markers replaced by the current table."""
    head, start, rest = readme.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError("README.md has no settings-table markers")
    return f"{head}{TABLE_START}\n{settings_table()}\n{TABLE_END}{tail}"


if __name__ == "__main__":  # regenerate the README's table in place
    readme_path = Path(__file__).resolve().parents[2] / "README.md"
    readme_path.write_text(readme_with_table(readme_path.read_text()))
    print(f"updated {readme_path}")
