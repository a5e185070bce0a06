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
# A job's begin (app.jobs.runner.Begin): takes the graph and the run's RunRequest, starts the
# run and makes the body's first read in one round trip; typed loosely for the same reason.
JobBegin = Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Job:
    name: str
    cron: str  # UTC, five fields
    entry: str  # "module:function", resolved lazily so importing the registry stays cheap
    timeout_seconds: int
    period: timedelta
    grace: timedelta
    description: str
    begin: str | None = None  # "module:function": the run's start with its first read

    def body(self) -> JobBody:
        module, _, attr = self.entry.partition(":")
        body: JobBody = getattr(importlib.import_module(module), attr)
        return body

    def beginner(self) -> JobBegin | None:
        """The job's begin function (`begin`), or None: the runner's own start."""
        if self.begin is None:
            return None
        module, _, attr = self.begin.partition(":")
        begin: JobBegin = getattr(importlib.import_module(module), attr)
        return begin


# Per job, the iterator of its last answer and that answer. A scheduler asks for the next fire
# after the one it just ran; croniter's parse and field expansion (most of a call's cost) are
# then skipped (a simulated month asks 29,520 times). Any other `after` starts a new iterator.
_LAST: dict[tuple[str, str], tuple[croniter, datetime]] = {}


def next_fire(job: Job, after: datetime) -> datetime:
    """The next instant `job`'s cron fires strictly after `after` (UTC)."""
    key = (job.name, job.cron)
    held = _LAST.get(key)
    it = held[0] if held is not None and held[1] == after else croniter(job.cron, after)
    fire: datetime = it.get_next(datetime)
    _LAST[key] = (it, fire)
    return fire
