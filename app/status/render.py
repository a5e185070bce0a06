"""The status page's HTML: server-rendered, one file, inline CSS and inline SVG charts.

Contract: `page(snapshot, business)` renders every section of `app.status.data.collect`
with a stable `id` per section (jobs, alerts, funnel, calls, deliverability, health, model,
appointments) so monitors and the browser test can find them; every value is escaped.
`login_page(message)` is what a visitor without the token sees: no data at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from app.console.outcomes import colour
from app.status.svg import funnel, stacked_bars

CSS = (
    "body{font:14px system-ui,sans-serif;margin:24px;color:#0f172a;background:#f8fafc}"
    "section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px 16px;"
    "margin:0 0 16px}h1{font-size:22px}h2{font-size:16px;margin:0 0 8px}"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;"
    "border-bottom:1px solid #f1f5f9}.bad{color:#dc2626;font-weight:600}.ok{color:#16a34a}"
    ".grid{display:flex;gap:24px;flex-wrap:wrap}"
)


def local(value: Any, zone: str) -> str | None:
    """An ISO timestamp shown in the business's zone, to the minute."""
    if not value:
        return None
    at = datetime.fromisoformat(str(value)).astimezone(ZoneInfo(zone))
    return at.strftime("%Y-%m-%d %H:%M %Z")


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else escape(str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    if not body:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(key: str, title: str, inner: str) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{inner}</section>'


def jobs(rows: list[dict[str, Any]], tz: str) -> str:
    cells = [
        (j["job"], j["status"] + (" (LATE)" if j["late"] else ""), local(j.get("started_at"), tz),
         j.get("duration_seconds"), local(j.get("next_run_at"), tz), j.get("error"))
        for j in rows
    ]  # fmt: skip
    headers = ("job", "state", "last run", "duration (s)", "next run", "error")
    return section("jobs", "Jobs", table(headers, cells, "no jobs registered"))


def alerts(rows: list[dict[str, Any]], tz: str) -> str:
    cells = [(a["code"], a["severity"], a["title"], a["count"], local(a["first_seen_at"], tz),
              "yes" if a.get("acknowledged_at") else "no") for a in rows]  # fmt: skip
    headers = ("code", "severity", "title", "count", "since", "acknowledged")
    return section("alerts", f"Open alerts ({len(rows)})", table(headers, cells, "none firing"))


def funnels(stages: list[dict[str, Any]]) -> str:
    names = ("leads", "contacted", "replied", "booked")
    charts = "".join(
        f"<div><h3>{escape(str(f['window']))}</h3>"
        + funnel([(k, int(f[k])) for k in names], label=f"funnel, {f['window']}")
        + "</div>"
        for f in stages
    )
    title = "Leads added → contacted → replies → bookings (the console's overview)"
    return section("funnel", title, f'<div class="grid">{charts}</div>')


def last_days(now: Any, tz: str, count: int = 14) -> list[str]:
    """The `count` local days ending today, oldest first, as YYYY-MM-DD."""
    today = datetime.fromisoformat(str(now)).astimezone(ZoneInfo(tz)).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(count - 1, -1, -1)]


def calls(rows: list[dict[str, Any]], days: list[str]) -> str:
    outcomes = sorted({r["outcome"] for r in rows})
    counts = {(r["day"], r["outcome"]): int(r["n"]) for r in rows}
    series = {o: [counts.get((d, o), 0) for d in days] for o in outcomes}
    chart = stacked_bars(days, series, label="calls per day by outcome",
                         colours=[colour(o) for o in outcomes]) if rows else ""  # fmt: skip
    return section("calls", "Calls per day by outcome (14 days)", chart or "<p>no calls</p>")


def deliverability(rows: list[dict[str, Any]]) -> str:
    cells = [(r["campaign"], r["sent"], f"{r['bounced_rate']}%", f"{r['complained_rate']}%",
              f"{r['filtered_rate']}%") for r in rows]  # fmt: skip
    headers = ("campaign", "sent", "bounce", "complaint", "filtered")
    return section("deliverability", "Deliverability per campaign (30 days)",
                   table(headers, cells, "no marketing sends"))  # fmt: skip


def health(rows: list[dict[str, Any]], tz: str) -> str:
    cells = [(h["target"], "up" if h["ok"] else "DOWN", h["latency_ms"], h["avg_latency_ms"],
              local(h["checked_at"], tz)) for h in rows]  # fmt: skip
    headers = ("API", "state", "latency (ms)", "avg 24 h (ms)", "checked")
    return section("health", "API health", table(headers, cells, "no probes yet"))


def model(snap: dict[str, Any]) -> str:
    m = snap.get("model")
    text = (f"model v{m['version']} ({m['kind']}), trained {m['trained_at']}" if m
            else "no model trained yet (the documented prior scores leads)")  # fmt: skip
    return section("model", "Scoring model",
                   f"<p>{escape(text)}; {snap['scored_leads']} leads scored, "
                   f"{snap['hot_leads']} hot</p>")  # fmt: skip


def appointments(a: dict[str, Any]) -> str:
    cells = [("upcoming", a["upcoming"]), ("booked, 7 days", a["booked_7d"]),
             ("no-shows, 7 days", a["no_show_7d"])]  # fmt: skip
    return section("appointments", "Appointments", table(("", "count"), cells, ""))


def page(snap: dict[str, Any], business: str) -> str:
    tz = str(snap["timezone"])
    sections = [
        jobs(snap["jobs"], tz), alerts(snap["alerts"], tz), funnels(snap["funnel"]),
        calls(snap["calls_per_day"], last_days(snap["now"], tz)),
        deliverability(snap["deliverability"]), health(snap["health"], tz), model(snap),
        appointments(snap["appointments"]),
    ]  # fmt: skip
    return _document(
        f"nightshift status: {business}",
        f"<h1>nightshift · {escape(business)}</h1>"
        + verdict_banner(snap["verdict"])
        + dry_run_banner(snap.get("dry_run") or [])
        + f"<p>as of {escape(local(snap['now'], tz) or '')}; window totals computed "
        f"{escape(local(snap.get('computed_at'), tz) or '-')}</p>" + "".join(sections),
    )


def verdict_banner(verdict: dict[str, str]) -> str:
    """The one green / amber / red line, in its fixed colour (app.console.outcomes)."""
    level = verdict["level"]
    return (f'<p id="verdict" data-level="{escape(level)}" style="background:{colour(level)};'
            f'color:#fff;padding:8px 12px;border-radius:8px;font-weight:600">'
            f"{escape(level.upper())}: {escape(verdict['reason'])}</p>")  # fmt: skip


def dry_run_banner(channels: list[str]) -> str:
    """The loud line while any provider is a dry run: its sends are stored, never sent."""
    if not channels:
        return ""
    names = escape(", ".join(channels))
    return f'<p class="bad"><strong>DRY RUN</strong>: {names}: nothing is really sent</p>'


def login_page(message: str = "") -> str:
    note = f'<p class="bad">{escape(message)}</p>' if message else ""
    form = ('<form method="post" action="/status/login"><label>Status token '
            '<input type="password" name="token" autocomplete="current-password" required>'
            '</label> <button type="submit">Sign in</button></form>')  # fmt: skip
    return _document("nightshift status: sign in", f"<h1>nightshift status</h1>{note}{form}")


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>"
    )
