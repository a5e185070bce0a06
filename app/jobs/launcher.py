"""The in-process `JobLauncher` (app/providers/launcher.py has the port and the Modal
adapter): `LocalJobLauncher` runs `app.jobs.runner.run_job` as a background task; either way
the run goes through the single-flight lease, so a restart can never double a job.
"""

from __future__ import annotations

import asyncio

from app.jobs.bootstrap import Context
from app.jobs.runner import RunOutcome, run_job
from app.providers.launcher import JobLauncher, ModalJobLauncher


class LocalJobLauncher:
    """In-process restarts (`nightshift dev`, tests). `drain()` awaits the launched runs."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tasks: list[asyncio.Task[RunOutcome]] = []

    async def launch(self, job: str) -> str:
        task = asyncio.create_task(run_job(self.ctx, job, reraise=False))
        self.tasks.append(task)
        # The event loop keeps only weak references: hold the task until it is done, even
        # after this launcher (one per guardian run) is gone.
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)
        return f"local-{job}-{id(task):x}"

    async def drain(self) -> list[RunOutcome]:
        """Wait for every run launched so far; their outcomes, in launch order."""
        tasks, self.tasks = self.tasks, []
        return list(await asyncio.gather(*tasks))


_RUNNING: set[asyncio.Task[RunOutcome]] = set()


def default_launcher(ctx: Context) -> JobLauncher:
    """Modal inside a Modal container, else in-process."""
    try:
        import modal
    except ImportError:  # pragma: no cover - modal ships with the deploy extra: not on Modal
        return LocalJobLauncher(ctx)
    return LocalJobLauncher(ctx) if modal.is_local() else ModalJobLauncher()
