"""The status page's deliverability section reads the sent marketing messages of 30 days from
an index alone (issue 19; migration 20261207121000): the messages heap is ~970 bytes a row
(payload, status_history) and the hourly status_refresh read all of it. The counts are the
same: a bounce, a complaint and a carrier-filtered text among 2,000 delivered sends are
counted; a send older than 30 days, one still queued and a transactional one are not.

The plan is the one the function runs: its body planned generic (a `language sql` function's
body is planned without its arguments' values), after ANALYZE."""

from __future__ import annotations

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import CAMPAIGN, add_leads, load, query
from tests.campaigns.test_history_reads import analyze, generic_plan

DELIVERED = 2000
TZ = "America/New_York"


async def test_the_deliverability_counts_come_from_the_sent_marketing_index(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    campaign = await load(ctx, CAMPAIGN)
    await add_leads(ctx, 1)
    wide = "x" * 600  # a rendered body: the heap row a seq scan would have to read
    await query(
        ctx,
        """insert into messages (idempotency_key, lead_id, campaign_id, channel, kind, provider,
                                 to_address, status, error_code, payload, created_at, sent_at)
           select 'm-' || g, (select min(id) from leads), %s, 'sms',
                  case g when 5 then 'transactional' else 'marketing' end, 'twilio',
                  '+12125550000',
                  case g when 1 then 'bounced' when 2 then 'complained'
                         when 4 then 'queued' else 'delivered' end,
                  case g when 3 then '30007' end,
                  jsonb_build_object('body', %s::text),
                  t.ts, case g when 4 then null else t.ts end
             from generate_series(1, %s) g,
                  lateral (select %s::timestamptz - case g when 6 then interval '31 days'
                                  else interval '1 second' * g end ts) t
           returning id""",
        campaign,
        wide,
        DELIVERED + 6,
        now,
    )
    await analyze(ctx, "messages")

    await ctx.repos.appointments.status_refresh(TZ, now)
    snap = await ctx.repos.appointments.status_snapshot(TZ, now)
    [row] = snap["deliverability"]
    # 2,006 rows: minus the queued, the transactional and the 31-day-old one
    assert (row["sent"], row["bounced"], row["complained"], row["filtered"]) == (
        DELIVERED + 3,
        1,
        1,
        1,
    )

    plan = await generic_plan(ctx, "status_aggregates", TZ, now)
    assert "Index Only Scan using messages_marketing_sent_idx" in plan
    assert "Seq Scan on messages" not in plan
