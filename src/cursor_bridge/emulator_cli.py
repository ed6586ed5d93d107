"""`cursor-bridge emulator`: the Cursor backend emulator on its own port."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from .listen import reason, run, tune_gc
from .wiretrace.format import TraceError, load_trace


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8790, show_default=True)
@click.option(
    "--token-latency",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds between streamed words (0 = line rate; 0.02 = a model typing 50 words/s).",
)
@click.option("--require-auth", is_flag=True, help="Refuse requests without a valid login.")
@click.option(
    "--token-lifetime",
    type=float,
    default=3600.0,
    show_default=True,
    help="Seconds an access token it issues lives.",
)
@click.option(
    "--inject",
    multiple=True,
    metavar="KIND",
    help="Put this protocol surprise into every Run (repeatable): unknown-field, "
    "unknown-query, end-early, missing-blob.",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Play the server side of a recorded wire trace instead of the scripted model.",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="KEY:NAME",
    help="One more user, logging in with this API key (repeatable).",
)
@click.option("--run-limit", type=int, default=None, help="Runs per user per --run-window.")
@click.option("--run-window", type=float, default=60.0, show_default=True, help="Seconds.")
@click.option("--context-window", type=int, default=None, help="Every model's window (tokens).")
@click.option(
    "--lenient",
    is_flag=True,
    help="Turn off strict mode (history from turns too, content-as-id everywhere).",
)
@click.option("--plan-limit", type=int, default=2000, show_default=True, help="Cents per period.")
@click.option("--run-cost", type=int, default=4, show_default=True, help="Cents per Run.")
@click.option("--on-demand-limit", type=int, default=None, help="On-demand cents allowed.")
@click.option("--enforce-usage", is_flag=True, help="Refuse Runs once the allowance is spent.")
@click.option("--usage-fault", default=None, metavar="CODE", help="GetCurrentPeriodUsage fails.")
def emulator(
    host: str,
    port: int,
    token_latency: float,
    require_auth: bool,
    token_lifetime: float,
    inject: tuple[str, ...],
    replay: Path | None,
    accounts: tuple[str, ...],
    run_limit: int | None,
    run_window: float,
    context_window: int | None,
    lenient: bool,
    plan_limit: int,
    run_cost: int,
    on_demand_limit: int | None,
    enforce_usage: bool,
    usage_fault: str | None,
) -> None:
    """Run the Cursor backend emulator on its own (HTTP/2 cleartext and HTTP/1.1)."""
    from .emulator import EmulatorOptions, run_emulator
    from .emulator.dashboard import UsagePlan
    from .emulator.inject import INJECTIONS
    from .emulator.limits import parse_account
    from .protocol.errors import CONNECT_CODES

    for kind in inject:
        if kind not in INJECTIONS:
            raise click.BadParameter(
                f"{kind!r} is not one of {', '.join(INJECTIONS)}", param_hint="--inject"
            )
    try:
        recorded = load_trace(replay) if replay is not None else None
    except TraceError as exc:
        raise click.ClickException(str(exc)) from None
    if usage_fault is not None and usage_fault not in CONNECT_CODES:
        raise click.BadParameter(
            f"{usage_fault!r} is not a Connect code", param_hint="--usage-fault"
        )
    try:
        users = tuple(parse_account(spec) for spec in accounts)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--account") from None
    options = EmulatorOptions(
        token_latency=token_latency,
        require_auth=require_auth,
        token_lifetime=token_lifetime,
        inject=inject,
        replay=recorded,
        accounts=users,
        run_limit=run_limit,
        run_limit_window=run_window,
        context_window=context_window,
        strict=not lenient,
        usage=UsagePlan(
            plan_limit, run_cost, on_demand_limit, enforce=enforce_usage, fault=usage_fault
        ),
    )
    tune_gc()  # as `serve` does: the emulator allocates as much per streamed word
    with contextlib.suppress(KeyboardInterrupt):
        try:
            run(run_emulator(host, port, options))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {reason(exc)}") from None
