"""The `JobLauncher` port: re-trigger a job run (auto-restart of a down or stalled job).

`ModalJobLauncher` spawns the deployed cron function
(`modal.Function.from_name("nightshift", job).spawn.aio()`, modal imported lazily: only the
deployed guardian needs the Modal client). The in-process adapter is app/jobs/launcher.py.
"""

from __future__ import annotations

from typing import Protocol

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
