"""`cursor-bridge keys create|list|revoke`: the API keys clients must present to the bridge.

Once any key exists (here, in CURSOR_BRIDGE_API_KEYS or in the config), every request
needs one; a running `serve` sees new and revoked keys at once. A key is printed once, at
creation; only its SHA-256 is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import click

from .server.client_keys import ClientKey, ClientKeyFileError, ClientKeyStore

T = TypeVar("T")


@click.group()
def keys() -> None:
    """Manage the API keys clients use to call this bridge."""


@keys.command()
@click.option("--name", default="", help="A label to recognise the key by (e.g. the client).")
def create(name: str) -> None:
    """Create a key and print it (once: only its hash is kept)."""
    key, record = _run(lambda store: store.create(name))
    click.echo(key)
    click.echo(
        f"Created key {record.id} ({record.name}). Clients send it as `Authorization: Bearer "
        "KEY` or `x-api-key: KEY`; every request now needs a key.",
        err=True,
    )


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_keys(as_json: bool) -> None:
    """The stored keys (id, name, start of the key, creation time); never the keys."""
    records = _run(lambda store: store.load())
    if as_json:
        click.echo(json.dumps([_entry(r) for r in records], indent=2))
        return
    if not records:
        click.echo("No keys: clients on loopback need none.")
        return
    for record in records:
        created = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"{record.id}  {record.hint:<12} {created}  {record.name}")


@keys.command()
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke the key with this id (or name); clients using it are refused at once."""
    gone = _run(lambda store: store.revoke(key_id))
    if not gone:
        raise click.ClickException(f"no key with id or name {key_id!r} (see `keys list`)")
    for record in gone:
        click.echo(f"Revoked {record.id} ({record.name}).")


def _entry(record: ClientKey) -> dict[str, object]:
    return {"id": record.id, "name": record.name, "hint": record.hint, "created": record.created}


def _run(action: Callable[[ClientKeyStore], T]) -> T:
    try:
        return action(ClientKeyStore())
    except ClientKeyFileError as exc:
        raise click.ClickException(str(exc)) from exc
