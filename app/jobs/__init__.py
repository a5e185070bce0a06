"""The jobs layer: the registry of scheduled loops, the run wrapper, the composition root
(`bootstrap`) and one entry per cron. It imports the domain rooms; only the edges import it."""

from app.jobs.registry import JOBS, JOBS_BY_NAME, Job, get_job

__all__ = ["JOBS", "JOBS_BY_NAME", "Job", "get_job"]
