"""`nightshift status`: the status page's sections as rich tables (or JSON with --json).

Contract: `snapshot_json(snap)` is the machine-readable form (the same dict as the page,
`jobs` first); `print_sections(snap)` prints the DRY RUN banner (once: the command skips the
generic notice), the console's verdict line, then one table per section to the terminal,
every time in BUSINESS_TIMEZONE.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli.support import local_time

_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")


def snapshot_json(snap: dict[str, Any]) -> str:
    return json.dumps(snap, indent=2, default=str)


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header)
    for row in rows:  # a lead's own words may hold "[STOP]" or "[/]": text, never markup
        table.add_row(*("-" if v is None else escape(str(v)) for v in row))
    return table


def tables(snap: dict[str, Any]) -> list[Table]:
    """One table per section, in the page's order."""
    funnel_rows = [(f["window"], f["leads"], f["contacted"], f["replied"], f["booked"])
                   for f in snap["funnel"]]  # fmt: skip
    model = snap.get("model") or {}
    return [
        _table("Jobs", ("job", "state", "late", "last run", "duration s", "next run"),
               [(j["job"], j["status"], "LATE" if j["late"] else "", j.get("started_at"),
                 j.get("duration_seconds"), j["next_run_at"]) for j in snap["jobs"]]),
        _table("Open alerts", ("code", "severity", "title", "count", "since"),
               [(a["code"], a["severity"], a["title"], a["count"], a["first_seen_at"])
                for a in snap["alerts"]]),
        _table("Funnel", ("window", "leads", "contacted", "replied", "booked"), funnel_rows),
        _table("Calls per day", ("day", "outcome", "calls"),
               [(c["day"], c["outcome"], c["n"]) for c in snap["calls_per_day"]]),
        _table("Deliverability (30 days)", ("campaign", "sent", "bounce %", "complaint %",
                                            "filtered %"),
               [(d["campaign"], d["sent"], d["bounced_rate"], d["complained_rate"],
                 d["filtered_rate"]) for d in snap["deliverability"]]),
        _table("API health", ("API", "up", "latency ms", "avg 24 h ms", "checked"),
               [(h["target"], h["ok"], h["latency_ms"], h["avg_latency_ms"], h["checked_at"])
                for h in snap["health"]]),
        _table("Scoring model", ("version", "kind", "trained", "scored leads", "hot leads"),
               [(model.get("version"), model.get("kind"), model.get("trained_at"),
                 snap["scored_leads"], snap["hot_leads"])]),
        _table("Appointments", ("upcoming", "booked 7 d", "no-shows 7 d"),
               [tuple(snap["appointments"][k] for k in ("upcoming", "booked_7d", "no_show_7d"))]),
        *consent_tables(snap.get("consent") or {}),
        *quality_tables(snap.get("call_quality")),
    ]  # fmt: skip


def quality_tables(q: dict[str, Any] | None) -> list[Table]:
    """The page's call-quality section: the last 7 days and the 7 before (connected calls)."""
    if not q:
        return []
    avg = [None if v is None else round(v) for v in (q["week_avg"], q["previous_avg"])]
    rows = [("last 7 days", q["week_calls"], avg[0], q["week_low"]),
            ("the 7 before", q["previous_calls"], avg[1], None)]  # fmt: skip
    headers = ("week", "calls", "average (0-100)", f"below {q['below']}")
    return [_table("Call quality (connected calls)", headers, rows)]


def consent_tables(consent: dict[str, Any]) -> list[Table]:
    """Leads held for review (release: `nightshift leads release`, or `leads dnc` when it was
    an opt-out) and the steps refused for want of consent (30 days), per reason."""
    held = consent.get("held_leads") or []
    return [
        _table(f"Held for review: {consent.get('held', 0)} (is this an opt-out?)",
               ("lead", "phone", "email", "their words / reason", "since"),
               [(h["id"], h["phone"], h["email"], h["reason"], h["updated_at"]) for h in held]),
        _table("Skipped for want of consent (30 days)", ("reason", "channel", "leads", "times"),
               [(s["reason"], s["channel"], s["leads"], s["times"])
                for s in consent.get("skipped") or []]),
    ]  # fmt: skip


_LEVEL_STYLE = {"green": "bold green", "amber": "bold yellow", "red": "bold red"}


def verdict_line(verdict: dict[str, str]) -> str:
    """The console's one verdict (app.console.verdict) as a rich line: `RED: <reason>`."""
    level = verdict.get("level", "")
    style = _LEVEL_STYLE.get(level, "bold")
    return f"[{style}]{level.upper()}[/]: {escape(verdict.get('reason', ''))}"


def localise(value: Any, zone: str) -> Any:
    """Every instant in `value` (datetimes, ISO strings with an offset) as the business reads
    it (`2026-12-07 09:30 CST`); everything else unchanged."""
    if isinstance(value, dict):
        return {k: localise(v, zone) for k, v in value.items()}
    if isinstance(value, list):
        return [localise(v, zone) for v in value]
    if isinstance(value, datetime) or (isinstance(value, str) and _INSTANT.match(value)):
        return local_time(value, zone)
    return value


def print_sections(
    snap: dict[str, Any], console: Console | None = None, zone: str | None = None
) -> None:
    """The tables, times in `zone` (BUSINESS_TIMEZONE) when given."""
    console = console or Console()
    snap = localise(snap, zone) if zone else snap
    if snap.get("dry_run"):
        channels = ", ".join(snap["dry_run"])
        console.print(f"[bold red]DRY RUN[/]: {channels}: nothing is really sent")
    if snap.get("verdict"):
        console.print(verdict_line(snap["verdict"]))
    for table in tables(snap):
        console.print(table)
