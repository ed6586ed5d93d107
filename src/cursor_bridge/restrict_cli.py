"""`cursor-bridge restrict`: limit a client API key to some accounts and models."""

from __future__ import annotations

import json

import click

from .auth.restrictions import Restriction, RestrictionStore


@click.command()
@click.argument("key_id", required=False)
@click.option("--account", "accounts", multiple=True, help="An account label or id it may use.")
@click.option("--model", "models", multiple=True, help="A model name it may use.")
@click.option("--clear", is_flag=True, help="Lift the key's restriction.")
def restrict(
    key_id: str | None, accounts: tuple[str, ...], models: tuple[str, ...], clear: bool
) -> None:
    """Limit the client key KEY_ID (its id, as `keys list` shows it) to the given accounts
    and models; without options, show its restriction; without KEY_ID, list them all."""
    store = RestrictionStore()
    if key_id is None:
        click.echo(json.dumps({k: r.to_json() for k, r in store.all().items()}, indent=2))
        return
    if clear:
        removed = store.remove(key_id)
        click.echo(f"{key_id}: {'restriction lifted' if removed else 'had no restriction'}.")
        return
    if accounts or models:
        store.set(
            key_id,
            Restriction(frozenset(accounts) or None, frozenset(models) or None),
        )
    found = store.get(key_id)
    click.echo(json.dumps({key_id: found.to_json() if found else None}, indent=2))
