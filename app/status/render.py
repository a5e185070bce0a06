"""The status page's HTML: Jinja2 templates (app/status/templates/), autoescaped, inline CSS
and inline SVG charts, no script — the console's way (app/console/render.py).

Contract: `page(snapshot, business)` renders every section of `app.status.data.collect`
with a stable `id` per section (jobs, alerts, funnel, calls, deliverability, health, model,
appointments, consent: the leads held for a human with their words, and the steps refused
for want of consent; quality: connected calls' average quality this week, the week before
and the change, the digest's numbers and words) so monitors and the browser test can find
them; every value is escaped by the templates, every time shown in the business time zone.
`login_page(message)` is what a visitor without the token sees: no data at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.console.outcomes import colour
from app.console.render import in_zone, template_env
from app.status.svg import funnel, stacked_bars

_env = template_env("app.status")
FUNNEL_STAGES = ("leads", "contacted", "replied", "booked")
local = in_zone  # times shown in the business's zone (None when absent)


def last_days(now: Any, tz: str, count: int = 14) -> list[str]:
    """The `count` local days ending today, oldest first, as YYYY-MM-DD."""
    today = datetime.fromisoformat(str(now)).astimezone(ZoneInfo(tz)).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(count - 1, -1, -1)]


def calls_chart(rows: list[dict[str, Any]], days: list[str]) -> dict[str, Any] | None:
    """The stacked bars of calls per day by outcome, each outcome in its fixed colour."""
    if not rows:
        return None
    outcomes = sorted({r["outcome"] for r in rows})
    counts = {(r["day"], r["outcome"]): int(r["n"]) for r in rows}
    series = {o: [counts.get((d, o), 0) for d in days] for o in outcomes}
    return stacked_bars(days, series, label="calls per day by outcome",
                        colours=[colour(o) for o in outcomes])  # fmt: skip


def _model_line(snap: dict[str, Any]) -> str:
    m = snap.get("model")
    return (f"model v{m['version']} ({m['kind']}), trained {m['trained_at']}" if m
            else "no model trained yet (the documented prior scores leads)")  # fmt: skip


def _consent(consent: dict[str, Any], tz: str) -> dict[str, Any]:
    held = [(h["id"], h.get("phone"), h.get("email"), h.get("reason"),
             local(h.get("updated_at"), tz)) for h in consent.get("held_leads") or []]  # fmt: skip
    skipped = [(s["reason"], s["channel"], s["leads"], s["times"])
               for s in consent.get("skipped") or []]  # fmt: skip
    return {"held": consent.get("held", 0), "held_leads": held, "skipped": skipped}


def _avg(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "-"


def _quality(q: dict[str, Any] | None) -> dict[str, Any] | None:
    """This week and the week before (calls, average, below the review level) and the
    change in points, rounded as the digest rounds them."""
    if not q:
        return None
    change = None
    if q["week_avg"] is not None and q["previous_avg"] is not None:
        change = round(q["week_avg"] - q["previous_avg"])
    rows = [("last 7 days", q["week_calls"], _avg(q["week_avg"]), q["week_low"]),
            ("the 7 before", q["previous_calls"], _avg(q["previous_avg"]), "")]  # fmt: skip
    return {"rows": rows, "below": q["below"], "line": q["line"],
            "change": "-" if change is None else f"{change:+d}"}  # fmt: skip


def view(snap: dict[str, Any], business: str) -> dict[str, Any]:
    """What the template shows, from the snapshot: rows as tuples, times localised, charts as
    geometry."""
    tz = str(snap["timezone"])
    return {
        "business": business, "verdict": snap["verdict"], "dry_run": snap.get("dry_run") or [],
        "now": local(snap["now"], tz), "computed_at": local(snap.get("computed_at"), tz),
        "jobs": [(j["job"], j["status"] + (" (LATE)" if j["late"] else ""),
                  local(j.get("started_at"), tz), j.get("duration_seconds"),
                  local(j.get("next_run_at"), tz), j.get("error")) for j in snap["jobs"]],
        "alerts": [(a["code"], a["severity"], a["title"], a["count"],
                    local(a["first_seen_at"], tz), "yes" if a.get("acknowledged_at") else "no")
                   for a in snap["alerts"]],
        "funnels": [{"window": f["window"],
                     "chart": funnel([(k, int(f[k])) for k in FUNNEL_STAGES],
                                     label=f"funnel, {f['window']}")} for f in snap["funnel"]],
        "calls": calls_chart(snap["calls_per_day"], last_days(snap["now"], tz)),
        "deliverability": [(r["campaign"], r["sent"], f"{r['bounced_rate']}%",
                            f"{r['complained_rate']}%", f"{r['filtered_rate']}%")
                           for r in snap["deliverability"]],
        "health": [(h["target"], "up" if h["ok"] else "DOWN", h["latency_ms"],
                    h["avg_latency_ms"], local(h["checked_at"], tz)) for h in snap["health"]],
        "model": _model_line(snap), "scored_leads": snap["scored_leads"],
        "hot_leads": snap["hot_leads"],
        "appointments": [("upcoming", snap["appointments"]["upcoming"]),
                         ("booked, 7 days", snap["appointments"]["booked_7d"]),
                         ("no-shows, 7 days", snap["appointments"]["no_show_7d"])],
        "consent": _consent(snap.get("consent") or {}, tz),
        "quality": _quality(snap.get("call_quality")),
    }  # fmt: skip


def page(snap: dict[str, Any], business: str) -> str:
    return _env.get_template("status.html").render(**view(snap, business))


def login_page(message: str = "") -> str:
    return _env.get_template("login.html").render(message=message)
