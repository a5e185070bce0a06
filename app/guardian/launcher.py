"""The `JobLauncher` port: re-trigger a job run (auto-restart of a down or stalled job).

Adapters: `ModalJobLauncher` spawns the deployed cron function
(`modal.Function.from_name("nightshift", job).spawn.aio()`, modal imported lazily);
`LocalJobLauncher` runs `app.runner.run_job` in-process as a background task. Either way the
run goes through the single-flight lease, so a restart can never double a job.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from app.context import Context
from app.runner import RunOutcome, run_job

MODAL_APP = "nightshift"


class JobLauncher(Protocol):
    async def launch(self, job: str) -> str:
        """Start one run of `job`; returns an id of the launched call (for the logs)."""
        ...


class ModalJobLauncher:
    def __init__(self, app_name: str = MODAL_APP) -> None:
        self.app_name = app_name

    async def launch(self, job: str) -> str:
        import modal  # lazily: only the deployed guardian needs the Modal client

        function = modal.Function.from_name(self.app_name, job)
        call = await function.spawn.aio()
        return str(call.object_id)


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
