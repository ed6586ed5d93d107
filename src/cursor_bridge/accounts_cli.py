"""The account commands: `login`, `status`, `logout`, `models`.

Each takes `--backend-url` (default: Cursor's real API) so the whole flow can be practised
against `cursor-bridge emulator`. Secrets are never printed: only a masked prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
import webbrowser
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from .auth import (
    Account,
    AuthClient,
    AuthEndpoints,
    CredentialsNotFound,
    LoginAttempt,
    LoginFailed,
    RefreshFailed,
    TokenStore,
    exchange_api_key,
    import_cursor_agent,
    import_cursor_ide,
    mask,
    normalize_backend,
    refresh_account,
    save_login,
    wait_for_approval,
)
from .auth.pool_usage import usage_json, usage_reports
from .backend_choice import backend_models, serve_backend
from .config import Settings
from .live import is_cursor, live_identity, probe
from .protocol.auth import TokenPair
from .protocol.errors import ConnectError
from .protocol.period_usage import PeriodUsage

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def backend_option(command: F) -> F:
    return click.option(
        "--backend-url",
        default=None,
        metavar="URL",
        help="Cursor API to use (default: Cursor's real one; an emulator URL to practise).",
    )(command)


def settings_for(backend_url: str | None) -> Settings:
    settings = Settings()
    if backend_url:
        settings = settings.model_copy(update={"backend_url": backend_url})
    return settings


def run(main: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(main)


def when(timestamp: float | None, now: float | None = None) -> str:
    """`2026-01-02 03:04 UTC (in 59 min)` style."""
    if timestamp is None:
        return "unknown (not a JWT)"
    now = time.time() if now is None else now
    delta = timestamp - now
    span = _span(abs(delta))
    return (
        f"{stamp(timestamp)} (in {span})"
        if delta > 0
        else f"{stamp(timestamp)} (expired {span} ago)"
    )


def stamp(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


@contextlib.asynccontextmanager
async def spinner(text: str) -> AsyncIterator[None]:
    """An animated line on stderr while the body runs (a plain line when not a terminal).

    (rich would do this, but with rich installed every `import httpx` also loads httpx's
    command line, rich and pygments: a tenth of a second on each start.)
    """
    if not sys.stderr.isatty():
        click.echo(text, err=True)
        yield
        return

    async def spin() -> None:
        for frame in itertools.cycle("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"):
            click.echo(f"\r{frame} {text}", nl=False, err=True)
            await asyncio.sleep(0.1)

    task = asyncio.create_task(spin())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        click.echo("\r\033[K", nl=False, err=True)


# -- login --------------------------------------------------------------------------------


@click.command()
@click.option("--no-browser", is_flag=True, help="Print the login URL instead of opening it.")
@click.option("--api-key", metavar="KEY", help="Log in with a Cursor user API key ('-': stdin).")
@click.option(
    "--import",
    "import_from",
    type=click.Choice(["cursor", "cursor-agent"]),
    help="Reuse the login of the Cursor IDE or of the cursor-agent CLI.",
)
@click.option(
    "--path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --import: the state.vscdb (IDE) or auth.json (cursor-agent) to read.",
)
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait.")
@click.option(
    "--label",
    metavar="NAME",
    default="",
    help="Name this account (several logins to one backend form a pool `serve` shares out).",
)
@backend_option
def login(
    no_browser: bool,
    api_key: str | None,
    import_from: str | None,
    path: Path | None,
    timeout: float,
    label: str,
    backend_url: str | None,
) -> None:
    """Log in to Cursor (browser by default) and store the account for `serve`.

    Log in once per account to share several among the bridge's users (`--label` names each).
    """
    settings = settings_for(backend_url)
    if api_key and import_from:
        raise click.UsageError("use either --api-key or --import, not both")
    if path is not None and not import_from:
        raise click.UsageError("--path goes with --import")
    if api_key == "-":
        api_key = sys.stdin.readline().strip()
        if not api_key:
            raise click.UsageError("no API key on standard input")
    try:
        account = run(_login(settings, no_browser, api_key, import_from, path, timeout, label))
    except KeyboardInterrupt:
        click.echo("Login cancelled.", err=True)
        sys.exit(130)
    except (LoginFailed, CredentialsNotFound) as exc:
        raise click.ClickException(f"login failed: {exc}") from None
    how = {"browser": "browser login", "api-key": "API key"}.get(account.method, account.method)
    click.echo(
        f"Logged in to {account.backend_url} as {account.label} ({how}). "
        f"Access token valid until {when(account.expires_at)}."
    )


async def _login(
    settings: Settings,
    no_browser: bool,
    api_key: str | None,
    import_from: str | None,
    path: Path | None,
    timeout: float,  # noqa: ASYNC109 -- the login's overall deadline
    label: str = "",
) -> Account:
    store = TokenStore()
    endpoints = AuthEndpoints.for_backend(settings.backend_url, settings.website_url)
    async with AuthClient(endpoints) as client:
        if api_key:
            pair = await exchange_api_key(client, api_key)
            return save_login(
                store, settings.backend_url, pair, "api-key", api_key=api_key, name=label
            )
        if import_from:
            return await _import(store, client, settings.backend_url, import_from, path, label)
        attempt = LoginAttempt.start(endpoints.website_url)
        if no_browser:
            click.echo("Open this URL in a browser to log in:")
        else:
            opened = webbrowser.open(attempt.url)
            click.echo(
                "Opening your browser to log in. If it did not open, visit:"
                if opened
                else "Open this URL in a browser to log in:"
            )
        click.echo(attempt.url)
        async with spinner("Waiting for the login to be approved… (Ctrl-C cancels)"):
            pair = await wait_for_approval(
                client, attempt, timeout=timeout, delay_scale=settings.login_poll_scale
            )
        return save_login(store, settings.backend_url, pair, "browser", name=label)


async def _import(
    store: TokenStore,
    client: AuthClient,
    backend_url: str,
    source: str,
    path: Path | None,
    label: str = "",
) -> Account:
    found = import_cursor_ide(path) if source == "cursor" else import_cursor_agent(path)
    pair = TokenPair(found.access_token, found.refresh_token)
    if not pair.access_token:  # cursor-agent stored only an API key
        pair = await exchange_api_key(client, found.api_key)
    account = save_login(
        store,
        backend_url,
        pair,
        f"import:{source}",
        api_key=found.api_key,
        email=found.email,
        name=label,
    )
    click.echo(f"Imported the {source} login from {found.source}.")
    expiry = account.expires_at
    if expiry is not None and expiry <= time.time():
        try:
            account, _ = await refresh_account(client, account)
        except RefreshFailed as exc:
            raise LoginFailed(
                f"the imported token has expired and refreshing it failed ({exc})"
            ) from None
        store.save(account)
    return account


# -- status -------------------------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@backend_option
def status(as_json: bool, backend_url: str | None) -> None:
    """Show the stored Cursor login (never the token) and whether the backend is reachable."""
    settings = settings_for(backend_url)
    store = TokenStore()
    found = store.current(settings.backend_url)
    account = found[1] if found else None
    identity = live_identity(
        settings.client_version, settings.ghost_mode, fetch_version=is_cursor(settings.backend_url)
    )
    token = account.access_token if account else None
    reach = run(probe(settings.backend_url.rstrip("/"), token, identity))
    choice = serve_backend(settings)
    others = [
        a for _, a in store.accounts() if a.backend_url != normalize_backend(settings.backend_url)
    ]
    pool = [a for _, a in store.accounts(settings.backend_url)]
    # Each account's usage this billing period, as the backend reports it (or why not).
    usage = run(
        usage_reports(settings.backend_url, identity, [a.access_token for a in pool])
        if reach.reachable and pool
        else _no_reports()
    )
    if as_json:
        report: dict[str, Any] = {
            "backend_url": normalize_backend(settings.backend_url),
            "logged_in": account is not None,
            "account": _account_json(account) if account else None,
            # Every account logged in at this backend (the pool `serve` shares out).
            "accounts": [
                {**_account_json(a), "usage": usage_json(u)}
                for a, u in itertools.zip_longest(pool, usage)
            ],
            "backend": {
                "reachable": reach.reachable,
                "token_accepted": reach.token_accepted,
                "detail": reach.detail,
            },
            "other_accounts": [{"backend_url": a.backend_url, "account": a.label} for a in others],
            "serve_backend": "emulator" if choice.emulator else choice.url,
        }
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(f"Backend:   {normalize_backend(settings.backend_url)} ({reach.detail})")
        if account is None:
            click.echo("Account:   not logged in (run `cursor-bridge login`)")
        else:
            click.echo(
                f"Account:   {account.label}"
                + (f" ({account.account_id})" if account.email else "")
            )
            click.echo(f"Logged in: {account.method}, {stamp(account.logged_in_at)}")
            click.echo(
                f"Token:     {mask(account.access_token)} expires {when(account.expires_at)}"
            )
            stored = [
                n
                for n, v in (("refresh token", account.refresh_token), ("API key", account.api_key))
                if v
            ]
            click.echo(f"Stored:    {', '.join(stored) or 'access token only'}")
        if len(pool) > 1:
            click.echo(f"Pool:      {len(pool)} accounts: " + ", ".join(a.label for a in pool))
        for member, answer in zip(pool, usage, strict=False):
            click.echo(f"Usage:     {member.label}: {describe_usage(answer)}")
        for other in others:
            click.echo(f"Also:      {other.label} at {other.backend_url}")
        click.echo(f"Serve:     would use {choice.describe()}")
    if account is None:
        sys.exit(1)


async def _no_reports() -> list[PeriodUsage | str]:
    return []


def describe_usage(usage: PeriodUsage | str) -> str:
    """`plan $1.20 / $20.00, on-demand $0.00 / $10.00, period ends 2026-12-31` or why not."""
    if isinstance(usage, str):
        return f"unavailable ({usage})"
    parts = [f"plan ${usage.plan_used / 100:,.2f} / ${usage.plan_limit / 100:,.2f}"]
    if usage.on_demand_used is not None:
        limit = usage.on_demand_limit
        parts.append(
            f"on-demand ${usage.on_demand_used / 100:,.2f}"
            + (f" / ${limit / 100:,.2f}" if limit is not None else "")
        )
    if usage.cycle_end is not None:
        parts.append(f"period ends {time.strftime('%Y-%m-%d', time.gmtime(usage.cycle_end))}")
    return ", ".join(parts) + (f" ({usage.message})" if usage.message else "")


def _account_json(account: Account) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "label": account.label,
        "email": account.email or None,
        "method": account.method,
        "logged_in_at": account.logged_in_at,
        "access_token": mask(account.access_token),
        "expires_at": account.expires_at,
        "expired": account.expires_at is not None and account.expires_at <= time.time(),
        "has_refresh_token": bool(account.refresh_token),
        "has_api_key": bool(account.api_key),
    }


# -- logout -------------------------------------------------------------------------------


@click.command()
@click.option("--all", "everything", is_flag=True, help="Forget every stored account.")
@click.option("--label", metavar="NAME", default="", help="Forget the account of this name.")
@backend_option
def logout(everything: bool, label: str, backend_url: str | None) -> None:
    """Forget the stored Cursor login (of this backend, or all with --all)."""
    settings = settings_for(backend_url)
    store = TokenStore()
    if everything:
        removed = store.remove_all()
        click.echo(f"Logged out of {removed} account(s).")
        return
    if label:
        named = [(p, a) for p, a in store.accounts(settings.backend_url) if a.label == label]
        found = named[0] if named else None
    else:
        found = store.current(settings.backend_url)
    if found is None:
        click.echo(f"Not logged in at {normalize_backend(settings.backend_url)}.")
        return
    path, account = found
    store.remove(path)
    click.echo(f"Logged out of {account.label} at {account.backend_url}.")


# -- models -------------------------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="The `/v1/models` entries as JSON.")
@backend_option
def models(as_json: bool, backend_url: str | None) -> None:
    """List the models of the logged-in account."""
    from .server.app import model_entry

    settings = settings_for(backend_url)
    choice = serve_backend(settings)
    click.echo(f"Backend: {choice.describe()}", err=True)
    try:
        found = run(backend_models(settings, choice))
    except ConnectError as exc:
        hint = " Run `cursor-bridge login`." if exc.code == "unauthenticated" else ""
        raise click.ClickException(f"cannot list models: {exc}.{hint}") from None
    if as_json:
        created = int(time.time())
        click.echo(
            json.dumps(
                {"object": "list", "data": [model_entry(m, created) for m in found]}, indent=2
            )
        )
        return
    for model in found:
        flags = [f"{model.context_window // 1000}k context"]
        if model.max_context_window:
            flags.append(f"max {model.max_context_window // 1000}k")
        if model.efforts:
            flags.append("effort " + "/".join(model.efforts))
        elif model.supports_thinking:
            flags.append("reasoning")
        if model.supports_images:
            flags.append("images")
        if model.supports_tools:
            flags.append("tools")
        click.echo(f"{model.id:<28} {model.display_name:<24} {', '.join(flags)}")
