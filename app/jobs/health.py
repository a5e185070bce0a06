"""A job's health as the status page and `/healthz` report it (healthchecks.io's model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.db.models import JobState
from app.jobs.registry import get_job


def job_health(state: JobState | None, name: str, now: datetime) -> dict[str, Any]:
    """A job's last run and whether it is late (no success within period + grace)."""
    job = get_job(name)
    if state is None:
        return {"status": "never_run", "late": False}
    last_ok = state.last_success_at
    late = last_ok is None or now - last_ok > job.period + job.grace
    return {
        "status": state.status,
        "started_at": state.started_at.isoformat(),
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
        "last_success_at": last_ok.isoformat() if last_ok else None,
        "late": late,
    }
