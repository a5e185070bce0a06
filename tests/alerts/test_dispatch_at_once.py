"""Issue 15: an alert raised by any job is dispatched by that job at once, not at the next
guardian run (up to 5 minutes later)."""

from __future__ import annotations

from typing import Any

import pytest

from app.jobs.runner import run_job
from tests.alerts.support import EMAIL, PHONE, MakeCtx, sent_to


async def test_an_alert_the_campaign_manager_raises_goes_out_with_its_run(
    make_ctx: MakeCtx, database_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def manager(deps: Any, rng: Any) -> dict[str, Any]:
        await deps.alerts.raise_alert(
            "deliverability.acme", "critical", "carrier filtering (30007) on 12% of texts"
        )
        return {"sent": 0}

    async def nothing_stuck(*args: Any) -> dict[str, Any]:
        return {}

    monkeypatch.setattr("app.campaigns.manager.run", manager)
    monkeypatch.setattr("app.jobs.campaign_manager.reconcile_calls", nothing_stuck)
    ctx = await make_ctx()
    outcome = await run_job(ctx, "campaign_manager")

    assert outcome.status == "succeeded" and outcome.counts["alert_notifications"] == 2
    (sms,) = sent_to(database_dsn, PHONE)
    assert "deliverability.acme" in sms["payload"]["body"]
    assert len(sent_to(database_dsn, EMAIL)) == 1


async def test_a_run_that_raised_nothing_sends_nothing(
    make_ctx: MakeCtx, database_dsn: str
) -> None:
    ctx = await make_ctx()
    await ctx.alerts.raise_alert("job.growth.late", "critical", "raised before the run")
    outcome = await run_job(ctx, "appointments")

    assert "alert_notifications" not in outcome.counts
    assert sent_to(database_dsn, PHONE) == []  # the guardian's flush groups it, as before
