"""`Watch`: the collaborators every guardian check shares (heartbeats, probes, error
fingerprints): the database, the clock and the alert entry point. Built by the jobs layer
(app/jobs/guardian.py) from its graph; never the graph itself."""

from __future__ import annotations

from dataclasses import dataclass

from app.alerts import Alerts
from app.core.clock import Clock
from app.db.repositories import Repositories


@dataclass(frozen=True)
class Watch:
    repos: Repositories
    clock: Clock
    alerts: Alerts
