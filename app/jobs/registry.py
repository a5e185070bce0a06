"""The job registry: the single list of scheduled loops.

`modal_deploy.py` turns each entry into a Modal cron function and `nightshift dev` schedules
the same list in-process. Five crons: the Modal Starter plan's limit (the daily digest runs
inside `growth`). `period` is how often a healthy job finishes; the guardian calls a job late
after `period + grace` without a successful run (healthchecks.io's model).
"""

from __future__ import annotations

from datetime import timedelta

from app.core.schedule import Job, next_fire

__all__ = ["JOBS", "JOBS_BY_NAME", "Job", "get_job", "next_fire"]

JOBS: tuple[Job, ...] = (
    Job(
        name="drip",
        cron="*/5 * * * *",
        entry="app.jobs.drip:run",
        begin="app.jobs.drip:begin",
        timeout_seconds=280,
        period=timedelta(minutes=5),
        grace=timedelta(minutes=5),
        description="send due email/SMS sequence steps inside permitted hours",
    ),
    Job(
        name="campaign_manager",
        cron="*/15 * * * *",
        entry="app.jobs.campaign_manager:run",
        begin="app.jobs.campaign_manager:begin",
        timeout_seconds=600,
        period=timedelta(minutes=15),
        grace=timedelta(minutes=10),
        description="enroll leads, pace volume, guard deliverability, queue AI calls",
    ),
    Job(
        name="growth",
        cron="7 * * * *",
        entry="app.jobs.growth:run",
        timeout_seconds=1800,
        period=timedelta(hours=1),
        grace=timedelta(minutes=30),
        description="score leads, learn best call times and A/B winners, daily digest",
    ),
    Job(
        name="guardian",
        cron="*/5 * * * *",
        entry="app.jobs.guardian:run",
        begin="app.jobs.guardian:begin",
        timeout_seconds=240,
        period=timedelta(minutes=5),
        grace=timedelta(minutes=5),
        description="watch heartbeats and provider health, restart stalled jobs, page on-call",
    ),
    Job(
        name="appointments",
        cron="*/5 * * * *",
        entry="app.jobs.appointments:run",
        begin="app.jobs.appointments:begin",
        timeout_seconds=240,
        period=timedelta(minutes=5),
        grace=timedelta(minutes=5),
        description="booking confirmations, reminders and no-show follow-ups",
    ),
)

JOBS_BY_NAME: dict[str, Job] = {job.name: job for job in JOBS}


def get_job(name: str) -> Job:
    """The registry entry for `name`; KeyError names the known jobs."""
    try:
        return JOBS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown job {name!r}; known: {', '.join(JOBS_BY_NAME)}") from None
