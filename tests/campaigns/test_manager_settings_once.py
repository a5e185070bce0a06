"""A campaign_manager run validates each campaign's settings once, not once per waiting call
(issue 19: 200 candidates of one campaign validated its definition 200 times a run, where
the run needs it once)."""

from __future__ import annotations

import pytest

from app.campaigns import manager
from app.campaigns.definition import CampaignSettings
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import CALLS, add_leads, load, query


async def test_each_campaign_is_validated_once_for_all_its_calls(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await load(ctx, CALLS)
    second = await load(ctx, CALLS.replace("slug: calls", "slug: recall"))
    await add_leads(ctx, 6)
    for lead in range(1, 7):
        await query(
            ctx,
            "insert into calls (idempotency_key, lead_id, campaign_id, to_number, status)"
            " values (%s, %s, %s, '+12125550000', 'queued') returning id",
            f"k{lead}", lead, first if lead % 3 else second,
        )  # fmt: skip
    queue, _ = await ctx.repos.manager.call_queue(10, clock.now())
    stored = CampaignSettings.stored
    validated: list[int] = []

    def counted(definition: dict[str, object]) -> CampaignSettings:
        validated.append(1)
        return stored(definition)

    monkeypatch.setattr(CampaignSettings, "stored", staticmethod(counted))
    settings = manager._settings(queue)
    assert len(queue) == 6
    assert len(validated) == 2  # once a campaign, for six calls
    assert set(settings) == {first, second}
