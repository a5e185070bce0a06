"""The JobLauncher adapters: Modal spawns the deployed function by name (modal mocked, no
account needed); locally the run goes through run_job and its single-flight lease."""

from __future__ import annotations

import uuid
from typing import Any

import modal
import pytest

from app.jobs.launcher import LocalJobLauncher, ModalJobLauncher, default_launcher
from tests.alerts.support import MakeCtx


class _Spawn:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    async def aio(self) -> Any:
        self.calls.append("spawn")
        return type("FunctionCall", (), {"object_id": "fc-01TEST"})()


async def test_modal_launcher_spawns_the_deployed_job(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[tuple[str, str]] = []
    calls: list[str] = []

    def from_name(app_name: str, name: str) -> Any:
        looked_up.append((app_name, name))
        return type("Function", (), {"spawn": _Spawn(calls)})()

    monkeypatch.setattr(modal.Function, "from_name", from_name)
    call_id = await ModalJobLauncher().launch("drip")
    assert (call_id, looked_up, calls) == ("fc-01TEST", [("nightshift", "drip")], ["spawn"])


async def test_local_launcher_runs_under_the_lease_so_it_never_doubles(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = await make_ctx()
    ran: list[str] = []

    async def body(*collaborators: Any) -> dict[str, Any]:  # whatever the entry hands it
        ran.append("drip")
        return {}

    monkeypatch.setattr("app.campaigns.drip.run", body)
    holder = uuid.uuid4()  # a live run already holds drip's lease
    await ctx.repos.job_runs.start("drip", holder, "other:1", 600, ctx.clock.now())
    launcher = LocalJobLauncher(ctx)
    await launcher.launch("drip")
    (outcome,) = await launcher.drain()
    assert outcome.status == "skipped" and ran == []


async def test_default_launcher_is_local_outside_modal(make_ctx: MakeCtx) -> None:
    assert isinstance(default_launcher(await make_ctx()), LocalJobLauncher)
