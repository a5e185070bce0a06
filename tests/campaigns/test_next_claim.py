"""The next batch is claimed while this batch's sends are in flight (drip.NextClaim), but
only once this batch's rows are all written and claimed: the caps read from the claim's
snapshot must count this batch's texts, as a claim made after the batch does."""

from __future__ import annotations

from datetime import timedelta

from app.campaigns import drip
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Overrides, bootstrap
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import CAMPAIGN, load
from tests.campaigns.test_drip import Recorded
from tests.chaos.helpers import rows
from tests.consented import consented_lead


async def test_a_capped_lead_texted_in_one_batch_is_capped_in_the_next_claimed_beside_it(
    settings: Settings, clock: ManualClock, transport: PostgresTransport, database_dsn: str
) -> None:
    # FL: 3 texts or calls per rolling 24 h. The lead had 2; two campaigns each have a text
    # due, one per batch (batch size 1): the second batch's claim runs beside the first
    # batch's send, and must see the first text, so only one goes.
    recorded = Recorded(transport)
    one = settings.model_copy(update={"drip_batch_size": 1})
    async with bootstrap(one, Overrides(clock=clock, transport=recorded)) as ctx:
        await load(ctx)
        await load(ctx, CAMPAIGN.replace("slug: tune-up", "slug: tune-up-2"))
        fl = consented_lead(
            name="Flo Rida", phone="+13055550100", state="FL", timezone="America/New_York"
        )
        await ctx.repos.leads.upsert([fl], clock.now())
        earlier = clock.now() - timedelta(hours=3)
        for n in (1, 2):
            rows(
                database_dsn,
                "insert into messages (idempotency_key, lead_id, channel, kind, provider,"
                " to_address, status, claimed_at, sent_at) select %s, id, 'sms', 'marketing',"
                " 'dryrun', phone, 'sent', %s, %s from leads returning id",
                (f"earlier-{n}", earlier, earlier),
            )
        await ctx.repos.campaigns.enroll(clock.now())
        recorded.functions.clear()
        counts = await drip.run(drip_deps(ctx))
        assert counts == {"advance": 1, "reschedule:attempt_cap": 1}
    texts = rows(database_dsn, "select 1 from messages where idempotency_key like 'drip:%%'")
    assert len(texts) == 1
    calls = recorded.functions
    second_claim = [i for i, f in enumerate(calls) if f == "claim_due_steps"][1]
    # the next claim ran after this batch's delivery claim (made by its outbox write: one
    # chunk, enqueue_outbox's p_claim) and before its settle
    assert "claim_messages" not in calls
    assert calls.index("enqueue_outbox") < second_claim < calls.index("complete_steps")
