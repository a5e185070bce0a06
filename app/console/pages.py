"""What each console page shows, as JSON-ready dicts: the HTML and the
`Accept: application/json` answer of a page are rendered from the same dict.

Contract: every function takes `ConsoleDeps` (the repositories it reads, the clock, the
business time zone); times stay ISO strings (the templates show them in the business time
zone, and each dict says which zone: `timezone`); a missing lead is None. The overview's
figures (`overview`) are the ones /status shows too (app.status.data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from typing import Any

from app.agents.figures import figures
from app.core.clock import Clock
from app.db.agents import AgentRepository
from app.db.alerts import AlertRepository
from app.db.campaigns import CampaignRepository
from app.db.console import ConsoleRepository

STATUSES = ("new", "contacted", "engaged", "booked", "customer", "lost", "do_not_contact")
WINDOWS = (("today", "today", 1), ("days_7", "7 days", 7), ("days_30", "30 days", 30))
FIGURES = ("leads_added", "contacted", "replies", "calls_answered", "bookings", "opt_outs")
_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"(?i)<br\s*/?>|</p>|</div>|</li>|</h[1-6]>")


@dataclass(frozen=True)
class ConsoleDeps:
    console: ConsoleRepository
    alerts: AlertRepository
    campaigns: CampaignRepository
    clock: Clock
    timezone: str
    # the training documents' versions and the assistant versions' figures (calls page)
    agents: AgentRepository | None = None


async def overview(deps: ConsoleDeps, limit: int = 10) -> dict[str, Any]:
    """The windows (today / 7 / 30 days), paused campaigns, held leads, hot leads not called."""
    return await deps.console.overview(deps.timezone, deps.clock.now(), limit)


def funnel(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The overview's windows in the shape /status and `nightshift status` show."""
    return [
        {"window": label, "days": days, "leads": figures[key]["leads_added"],
         "contacted": figures[key]["contacted"], "replied": figures[key]["replies"],
         "booked": figures[key]["bookings"]}
        for key, label, days in WINDOWS
    ]  # fmt: skip


def html_text(html: str | None) -> str | None:
    """What an email says, as text (its tags dropped, its paragraphs kept as lines)."""
    if html is None:
        return None
    text = unescape(_TAG.sub("", _BLOCK.sub("\n", html)))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


async def leads(
    deps: ConsoleDeps, query: str, status: str, min_score: float | None, campaign: str
) -> dict[str, Any]:
    found = await deps.console.leads(query, status=status, min_score=min_score,
                                     campaign=campaign)  # fmt: skip
    campaigns = [c.slug for c in await deps.campaigns.all()]
    filters = {"q": query, "status": status, "min_score": min_score, "campaign": campaign}
    return {"timezone": deps.timezone, "filters": filters, "leads": found,
            "statuses": list(STATUSES), "campaigns": campaigns}  # fmt: skip


async def lead(deps: ConsoleDeps, lead_id: int) -> dict[str, Any] | None:
    """The lead, its score and reasons, and one timeline of everything (newest first)."""
    found = await deps.console.lead(lead_id)
    if found is None:
        return None
    for event in found["timeline"]:
        if event["kind"] == "message" and event.get("body") is None:
            event["body"] = html_text(event.pop("html", None))
        event.pop("html", None)
    return {"timezone": deps.timezone, **found}


async def campaigns(deps: ConsoleDeps, slug: str | None = None) -> dict[str, Any]:
    return {"timezone": deps.timezone, "campaigns": await deps.console.campaigns(slug)}


async def calls(deps: ConsoleDeps, days: int = 30) -> dict[str, Any]:
    now = deps.clock.now()
    found = await deps.console.calls(deps.timezone, now - timedelta(days=days), now)
    versions = figures(await deps.agents.version_stats()) if deps.agents else []
    return {
        "timezone": deps.timezone, "days": days, **found, "training": await training(deps),
        "versions": versions,
    }  # fmt: skip


async def training(deps: ConsoleDeps) -> dict[str, Any] | None:
    """The newest training build (docs/agents.md "The training loop") and the unified diff
    from the build before it; None before the first build."""
    builds = await deps.agents.training_builds(1) if deps.agents else []
    if not builds or deps.agents is None:
        return None
    b = builds[0]
    return {
        "version": b.version, "calls": b.calls, "built_at": b.built_at.isoformat(),
        "published_at": b.published_at.isoformat() if b.published_at else None,
        "diff": await deps.agents.training_diff(),
    }  # fmt: skip


async def alerts(deps: ConsoleDeps) -> dict[str, Any]:
    now = deps.clock.now()
    listed = await deps.alerts.list_alerts(now, include_resolved=True, limit=50)
    rows = [{**item.alert.model_dump(mode="json", exclude={"details"}),
             "silenced": item.silenced} for item in listed]  # fmt: skip
    silences = [s.model_dump(mode="json") for s in await deps.alerts.active_silences(now)]
    return {"timezone": deps.timezone, "alerts": rows, "silences": silences}


async def appointments(deps: ConsoleDeps) -> dict[str, Any]:
    upcoming = await deps.console.appointments(deps.clock.now())
    return {"timezone": deps.timezone, "appointments": upcoming}
