"""`GET /status`: one server-rendered HTML page for a person running the bridge.

Accounts (health, cooldown, usage as this process saw it and as the backend last reported
it for the billing period), parked Runs, the recent requests (dialect, model,
status, time to first token, tokens) and a chart of requests and latency per minute over
the last hour, drawn as inline SVG: no script, no external asset, so it works offline and
under a strict CSP. Everything shown that a client chose (model names) is escaped.
"""

from __future__ import annotations

import ast
import statistics
import time
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..access import AccessRecord
from ..auth.pool import AccountStatus
from ..engine import EngineError, translated
from ..engine.backend import CursorBackend
from .request_log import RequestLog

RECENT_ROWS = 50
MINUTES = 60
_STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#5b6475}table{border-collapse:collapse;background:#fff;min-width:60%}
th,td{border:1px solid #dde1e8;padding:4px 10px;text-align:left}th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17803d;font-weight:600}.bad{color:#b42318;font-weight:600}
.empty{color:#5b6475;font-style:italic}svg{background:#fff;border:1px solid #dde1e8}
"""


async def status_page(request: Request) -> HTMLResponse:
    backend: CursorBackend = request.app.state.backend
    log: RequestLog = request.app.state.request_log
    now = time.time()
    pool = backend.config.accounts
    shared = ""
    if pool is not None:
        try:
            with translated():
                await pool.refresh_cooldowns()
        except EngineError as exc:  # Redis away: show what this process knows
            shared = f"<p class='bad'>{escape(exc.detail)}; cooldowns as last seen here.</p>"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='refresh' content='10'>",
        f"<title>cursor-bridge status</title><style>{_STYLE}</style></head><body>",
        "<h1>cursor-bridge</h1>",
        f"<div class='meta'>mode {escape(request.app.state.mode)}",
        f" · process {escape(instance)}" if (instance := backend.config.instance_id) else "",
        f" · up {_span(now - request.app.state.started)} · Runs opened {backend.runs_opened}</div>",
        "<h2>Accounts</h2>",
        shared,
        _accounts(pool.snapshot() if pool is not None else [], now),
        f"<h2>Parked Runs ({len(backend.sessions)})</h2>",
        _parked(backend.sessions.parked()),
        "<h2>Requests and time to first token, last hour</h2>",
        chart(log.since(now - MINUTES * 60), now),
        "<h2>Recent requests</h2>",
        _recent(list(log.records)[-RECENT_ROWS:][::-1]),
        "</body></html>",
    ]
    return HTMLResponse("".join(parts), headers={"cache-control": "no-store"})


def _accounts(rows: list[AccountStatus], now: float) -> str:
    if not rows:
        return "<p class='empty'>No pool: the bridge runs without a stored login.</p>"
    head = (
        "<table id='accounts'><tr><th>account</th><th>health</th><th>cooling</th>"
        "<th>in flight</th><th>requests</th><th>input tokens</th><th>output tokens</th>"
        "<th>limit hits</th><th>last error</th><th>plan used / limit</th>"
        "<th>on-demand used / limit</th><th>period ends</th><th>usage report</th></tr>"
    )
    body = "".join(
        f"<tr><td>{escape(r.label)}</td>"
        + (
            "<td class='ok'>healthy</td><td></td>"
            if r.healthy
            else f"<td class='bad'>cooling</td><td class='num'>{r.cooling_seconds} s</td>"
        )
        + "".join(
            f"<td class='num'>{n}</td>"
            for n in (r.in_flight, r.requests, r.input_tokens, r.output_tokens, r.limit_hits)
        )
        + f"<td>{escape(r.last_error or '')}</td>"
        + _period(r, now)
        + "</tr>"
        for r in rows
    )
    return head + body + "</table>"


def _period(row: AccountStatus, now: float) -> str:
    """The backend's report: plan, on-demand, period end, and how old or why missing."""
    usage = row.period_usage
    cells = ["", "", ""]
    if usage is not None:
        cells[0] = f"{_money(usage.plan_used)} / {_money(usage.plan_limit)}"
        if usage.on_demand_used is not None:
            limit = "–" if usage.on_demand_limit is None else _money(usage.on_demand_limit)
            cells[1] = f"{_money(usage.on_demand_used)} / {limit}"
        if usage.cycle_end is not None:
            cells[2] = time.strftime("%Y-%m-%d %H:%M", time.gmtime(usage.cycle_end))
    if row.usage_error:
        report = f"<span class='bad'>failed: {escape(row.usage_error)}</span>"
    elif row.usage_checked_at:
        report = f"{_span(now - row.usage_checked_at)} ago"
    else:
        report = "not read yet"
    return "".join(f"<td class='num'>{c}</td>" for c in cells) + f"<td>{report}</td>"


def _money(cents: int) -> str:
    """The backend's figures are taken to be US cents (see protocol/period_usage.py)."""
    return f"${cents / 100:,.2f}"


def _parked(rows: list[tuple[str, str, int, float]]) -> str:
    if not rows:
        return "<p class='empty'>None: no tool round is waiting for results.</p>"
    head = "<table id='parked'><tr><th>session</th><th>model</th><th>pending calls</th>"
    head += "<th>closes in</th></tr>"
    body = "".join(
        f"<tr><td>{escape(tag)}</td><td>{escape(_model_name(model))}</td>"
        f"<td class='num'>{pending}</td><td class='num'>{_span(left)}</td></tr>"
        for tag, model, pending, left in rows
    )
    return head + body + "</table>"


def _recent(records: list[AccessRecord]) -> str:
    if not records:
        return "<p class='empty'>No model requests yet.</p>"
    head = (
        "<table id='recent'><tr><th>time (UTC)</th><th>dialect</th><th>model</th>"
        "<th>status</th><th>TTFT</th><th>duration</th><th>tokens in / out</th>"
        "<th>context</th><th>account</th></tr>"
    )
    body = "".join(
        f"<tr><td>{time.strftime('%H:%M:%S', time.gmtime(r.at))}</td>"
        f"<td>{escape(r.dialect)}</td><td>{escape(r.requested_model)}</td>"
        f"<td class='{'ok' if r.status < 400 else 'bad'}'>{r.status}</td>"
        f"<td class='num'>{_ms(r.ttft)}</td><td class='num'>{_ms(r.duration)}</td>"
        f"<td class='num'>{r.input_tokens or 0} / {r.output_tokens or 0}</td>"
        f"<td class='num'>{_context(r)}</td><td>{escape(r.account)}</td></tr>"
        for r in records
    )
    return head + body + "</table>"


def chart(records: list[AccessRecord], now: float, width: int = 720, height: int = 180) -> str:
    """Bars: requests per minute (errors in red); line: median TTFT per minute."""
    counts = [0] * MINUTES
    errors = [0] * MINUTES
    ttfts: list[list[float]] = [[] for _ in range(MINUTES)]
    for r in records:
        slot = MINUTES - 1 - int((now - r.at) // 60)
        if 0 <= slot < MINUTES:
            counts[slot] += 1
            errors[slot] += r.status >= 400
            if r.ttft is not None:
                ttfts[slot].append(r.ttft)
    left, bottom, top = 44, height - 22, 12
    plot_w, plot_h = width - left - 44, bottom - top
    step = plot_w / MINUTES
    peak = max(max(counts), 1)
    medians = [statistics.median(t) if t else None for t in ttfts]
    slowest = max((m for m in medians if m is not None), default=0.0) or 1.0
    svg = [
        f"<svg id='chart' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'"
        f" role='img' aria-label='requests and median time to first token per minute'>",
        f"<line x1='{left}' y1='{bottom}' x2='{left + plot_w}' y2='{bottom}' stroke='#8a93a6'/>",
        f"<text x='{left - 6}' y='{top + 10}' text-anchor='end' font-size='11'>{peak}</text>",
        f"<text x='{left - 6}' y='{bottom}' text-anchor='end' font-size='11'>0</text>",
        f"<text x='{left + plot_w + 6}' y='{top + 10}' font-size='11' fill='#c2410c'>"
        f"{_ms(slowest)}</text>",
        f"<text x='{left}' y='{height - 4}' font-size='11'>-60 min</text>",
        f"<text x='{left + plot_w}' y='{height - 4}' font-size='11' text-anchor='end'>now</text>",
    ]
    for i, count in enumerate(counts):
        if not count:
            continue
        x, h = left + i * step, plot_h * count / peak
        bad = plot_h * errors[i] / peak
        svg.append(
            f"<rect class='bar' x='{x + 1:.1f}' y='{bottom - h:.1f}' width='{step - 2:.1f}'"
            f" height='{h - bad:.1f}' fill='#3b6fd8'><title>{count} requests</title></rect>"
        )
        if bad:
            svg.append(
                f"<rect x='{x + 1:.1f}' y='{bottom - bad:.1f}' width='{step - 2:.1f}'"
                f" height='{bad:.1f}' fill='#d92d20'/>"
            )
    points = [
        f"{left + (i + 0.5) * step:.1f},{bottom - plot_h * m / slowest:.1f}"
        for i, m in enumerate(medians)
        if m is not None
    ]
    if points:
        svg.append(
            f"<polyline id='ttft' points='{' '.join(points)}' fill='none' stroke='#c2410c'"
            " stroke-width='2'/>"
        )
        for point in points:  # a lone minute still shows
            cx, cy = point.split(",")
            svg.append(f"<circle cx='{cx}' cy='{cy}' r='3' fill='#c2410c'/>")
    svg.append("</svg>")
    legend = (
        "<div class='meta'>bars: requests per minute (red: errors) · "
        "line: median time to first token</div>"
    )
    return "".join(svg) + legend


def _context(record: AccessRecord) -> str:
    if not record.context_max:
        return ""
    share = f"{record.context_used} / {record.context_max}"
    return share + (" (summarised)" if record.summarized else "")


def _model_name(model_key: str) -> str:
    """The model id out of the engine's model key `repr((id, max_mode, params))`."""
    try:
        value = ast.literal_eval(model_key)
    except (ValueError, SyntaxError):
        return model_key
    return str(value[0]) if isinstance(value, tuple) and value else model_key


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
