"""A scheduled job's definition as plain data: what the registry lists, the guardian
watches and the schedulers fire (`app/jobs/registry.py` holds the list itself)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

# A job body takes the built graph (app.jobs.bootstrap.Context); typed loosely here because
# the graph is built two layers up and only the jobs layer calls a body.
JobBody = Callable[[Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Job:
    name: str
    cron: str  # UTC, five fields
    entry: str  # "module:function", resolved lazily so importing the registry stays cheap
    timeout_seconds: int
    period: timedelta
    grace: timedelta
    description: str

    def body(self) -> JobBody:
        module, _, attr = self.entry.partition(":")
        body: JobBody = getattr(importlib.import_module(module), attr)
        return body


def next_fire(job: Job, after: datetime) -> datetime:
    """The next instant `job`'s cron fires strictly after `after` (UTC)."""
    fire: datetime = croniter(job.cron, after).get_next(datetime)
    return fire
