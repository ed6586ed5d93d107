"""`cursor-bridge setup CLIENT`: paste-ready configuration for OpenCode, Claude Code and Codex.

The renderers are pure functions (the real-client tests configure the clients with them, so
what is printed is what is tested); the command adds the model list of the backend `serve`
would use and, with `--write`, writes the file without ever replacing one unless `--force`.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import click

from .config import Settings
from .paths import write_private

API_KEY = "unused"  # clients insist on a key; the bridge uses its own Cursor login
CODEX_KEY_ENV = "CURSOR_BRIDGE_API_KEY"
CLAUDE_ENV = {
    # Keep Claude Code from calling Anthropic's own servers for updates and telemetry.
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}


def opencode_config(base_url: str, models: list[str], model: str) -> dict[str, Any]:
    """`opencode.json`: an OpenAI-compatible provider whose models may call tools."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "bridge": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Cursor bridge",
                "options": {"baseURL": f"{base_url}/v1", "apiKey": API_KEY},
                "models": {m: {"name": m, "tool_call": True} for m in models},
            }
        },
        "model": f"bridge/{model}",
        "autoupdate": False,
        "share": "disabled",
    }


def codex_config(base_url: str, model: str) -> str:
    """`$CODEX_HOME/config.toml`: a Responses-API provider (Codex's own wire format)."""
    return (
        f'model = "{model}"\n'
        'model_provider = "bridge"\n'
        "\n"
        "[model_providers.bridge]\n"
        'name = "Cursor bridge"\n'
        f'base_url = "{base_url}/v1"\n'
        f'env_key = "{CODEX_KEY_ENV}"\n'
        'wire_api = "responses"\n'
    )


def claude_code_settings(base_url: str, model: str) -> dict[str, Any]:
    """A Claude Code settings file (`claude --settings FILE`): the bridge as its API, and
    edits accepted without a prompt (in `-p` mode an edit is refused otherwise)."""
    return {
        "env": {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": API_KEY, **CLAUDE_ENV},
        "model": model,
        "permissions": {"defaultMode": "acceptEdits"},
    }


# -- the command ----------------------------------------------------------------------------

_PREFERRED = {
    "opencode": ("claude-4.6-sonnet", "default"),
    "codex": ("gpt-5.4", "default"),
    "claude-code": ("claude-sonnet-4-5",),
}


@click.command()
@click.argument("client", type=click.Choice(["opencode", "claude-code", "codex"]))
@click.option("--base-url", metavar="URL", help="The bridge's URL (default: from host/port).")
@click.option("--model", metavar="NAME", help="The model the client starts with.")
@click.option("--write", is_flag=True, help="Write the file instead of printing it.")
@click.option(
    "--path",
    "target",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --write: where (default: the client's usual file, see --help of each).",
)
@click.option("--force", is_flag=True, help="With --write: replace an existing file.")
def setup(
    client: str,
    base_url: str | None,
    model: str | None,
    write: bool,
    target: Path | None,
    force: bool,
) -> None:
    """Print (or --write) a working configuration for CLIENT.

    Files written: opencode -> ./opencode.json; codex -> $CODEX_HOME/config.toml (default
    ~/.codex/config.toml); claude-code -> claude-code-settings.json in the config dir, used
    with `claude --settings FILE`.
    """
    settings = Settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    base = (base_url or f"http://{host}:{settings.port}").rstrip("/").removesuffix("/v1")
    needs_list = client == "opencode" or (client == "codex" and model is None)
    names = _model_names(settings) if needs_list else []
    chosen = model or _pick(client, names)
    if client == "opencode":
        text = json.dumps(opencode_config(base, names or [chosen], chosen), indent=2) + "\n"
        default_path = Path("opencode.json")
        usage = 'opencode run "..."   (in the directory of opencode.json)'
    elif client == "codex":
        text = codex_config(base, chosen)
        default_path = Path(os.environ.get("CODEX_HOME", Path.home() / ".codex")) / "config.toml"
        usage = f'{CODEX_KEY_ENV}={API_KEY} codex exec --skip-git-repo-check "..."'
    else:
        text = json.dumps(claude_code_settings(base, chosen), indent=2) + "\n"
        from .config import config_path

        default_path = config_path().parent / "claude-code-settings.json"
        usage = 'claude --settings FILE   (or: claude --settings FILE -p "...")'
    if not write:
        click.echo(text, nl=False)
        click.echo(f"# then: {usage.replace('FILE', str(default_path))}", err=True)
        return
    path = (target or default_path).expanduser()
    if path.exists() and not force:
        raise click.ClickException(
            f"{path} exists; not replacing it. Pass --force to replace it, --path to write "
            "elsewhere, or drop --write to print the configuration."
        )
    write_private(path, text.encode())
    click.echo(f"Wrote {path}. Then: {usage.replace('FILE', str(path))}")


def _model_names(settings: Settings) -> list[str]:
    from .backend_choice import backend_models, serve_backend

    models = asyncio.run(backend_models(settings, serve_backend(settings)))
    return [m.id for m in models]


def _pick(client: str, names: list[str]) -> str:
    for name in _PREFERRED[client]:
        if client == "claude-code" or name in names:
            return name
    return names[0] if names else "default"
