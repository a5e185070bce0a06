"""The one verdict the overview and /status open with: green, amber or red, with a reason.

Contract of `verdict(jobs, alerts, health, overview)`, from the status snapshot's live
sections and the console overview:
- red when a critical alert is firing unacknowledged, a job's last run failed or a job is
  late, or an API's last probe failed (DOWN);
- else amber when any alert is firing, a campaign is paused, a lead waits for a human, or a
  job has never run (a fresh deploy has proven nothing yet: healthchecks.io's "new" state);
- else green.
The reason names each finding of the worst level (at most three, then "and N more").
"""

from __future__ import annotations

from typing import Any

MAX_REASONS = 3


def _red(jobs: list[dict[str, Any]], alerts: list[dict[str, Any]],
         health: list[dict[str, Any]]) -> list[str]:  # fmt: skip
    found = [f"critical alert {a['code']}: {a['title']}" for a in alerts
             if a.get("severity") == "critical" and not a.get("acknowledged_at")]  # fmt: skip
    found += [f"job {j['job']} failed" for j in jobs if j.get("status") == "failed"]
    found += [f"job {j['job']} is late" for j in jobs
              if j.get("late") and j.get("status") != "failed"]  # fmt: skip
    found += [f"{h['target']} is DOWN" for h in health if h.get("ok") is False]
    return found


def _amber(jobs: list[dict[str, Any]], alerts: list[dict[str, Any]],
           overview: dict[str, Any]) -> list[str]:  # fmt: skip
    found = [f"alert {a['code']} firing: {a['title']}" for a in alerts]
    never = [j["job"] for j in jobs if j.get("status") == "never_run"]
    if never:
        found.append(f"{len(never)} job(s) have not run yet: {', '.join(never)}")
    found += [f"campaign {c['slug']} paused: {c.get('paused_reason') or 'no reason given'}"
              for c in overview.get("paused_campaigns", [])]  # fmt: skip
    held = len(overview.get("needs_human", []))
    if held:
        found.append(f"{held} lead(s) need a human")
    return found


def _reason(found: list[str]) -> str:
    shown = "; ".join(found[:MAX_REASONS])
    more = len(found) - MAX_REASONS
    return f"{shown}; and {more} more" if more > 0 else shown


def verdict(
    jobs: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    health: list[dict[str, Any]],
    overview: dict[str, Any],
) -> dict[str, str]:
    """`{level, reason}` (see module contract)."""
    red = _red(jobs, alerts, health)
    if red:
        return {"level": "red", "reason": _reason(red)}
    amber = _amber(jobs, alerts, overview)
    if amber:
        return {"level": "amber", "reason": _reason(amber)}
    return {"level": "green", "reason": "every job on time, no alert firing, every API up"}
