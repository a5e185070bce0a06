"""The batch checks stay inlined (issue 19): the drip claim, the delivery claim and the
last-moment check join internal.outbox_check laterally, and Postgres inlines it as
subqueries of the batch's plan — a probe per rule and row. A SET clause, a volatile marking
or a second statement in it would silently turn it into a function call per row (about
three times slower); this fails then."""

from __future__ import annotations

import psycopg
import pytest

from app.jobs.bootstrap import Context
from tests.campaigns.helpers import CAMPAIGN, add_leads, load, query

BATCH_QUERIES = {
    "outbox_check": (
        "select m.id, k.suppressed, k.refusal from messages m"
        " cross join lateral internal.outbox_check(m.channel, m.kind, m.lead_id, m.to_address) k"
        " where m.id = any ('{1,2,3}'::bigint[])"
    ),
}

READS = {"outbox_check": "public.suppressions"}


@pytest.mark.parametrize("function", sorted(BATCH_QUERIES))
def test_the_batch_form_is_planned_inside_the_batch_query(database_dsn: str, function: str) -> None:
    with psycopg.connect(database_dsn) as conn:
        plan = "\n".join(
            row[0] for row in conn.execute(f"explain (verbose) {BATCH_QUERIES[function]}")
        )
    assert "Function Scan" not in plan, plan
    assert function not in plan, plan
    assert READS[function] in plan, plan  # its body's table, read by the batch's own plan


def test_the_single_row_forms_answer_as_the_batch_form(database_dsn: str) -> None:
    """outbox_is_suppressed / outbox_refusal (claim_call, the rescue texts) read the same rule:
    a lead with no consent on record is refused a campaign text, not an appointment text."""
    with psycopg.connect(database_dsn) as conn:
        lead = conn.execute(
            "insert into leads (name, phone, state, timezone, source) values"
            " ('Maria Gonzalez', '+15125550100', 'TX', 'America/Chicago', 'web_form')"
            " returning id"
        ).fetchone()
        assert lead is not None
        args = ("sms", lead[0], "+15125550100")
        row = conn.execute(
            "select internal.outbox_is_suppressed(%s, %s, %s),"
            " internal.outbox_refusal('sms', 'marketing', %s, %s),"
            " internal.outbox_refusal('sms', 'transactional', %s, %s)",
            (*args, lead[0], args[2], lead[0], args[2]),
        ).fetchone()
        assert row == (False, "no_sms_consent", None)
        conn.execute(
            "insert into suppressions (channel, address, reason) values ('sms', %s, 'stop')",
            (args[2],),
        )
        suppressed = conn.execute(
            "select internal.outbox_is_suppressed(%s, %s, %s)", args
        ).fetchone()
        assert suppressed == (True,)


SECOND = (
    CAMPAIGN.replace("slug: tune-up", "slug: second")
    .replace("name: Tune-up recall", "name: Second")
    .replace("time for your tune-up?", "your filter is due.")
    .replace("new_per_day: 1000", "new_per_day: 999")
)


async def test_a_batch_of_two_campaigns_gives_each_step_its_own_campaign(ctx: Context) -> None:
    """claim_due_steps sends a campaign and a step in full once per batch, then by id; every
    claimed step still carries its own campaign's settings and its own step's template."""
    first, second = await load(ctx), await load(ctx, SECOND)
    await add_leads(ctx, 5)
    await ctx.repos.campaigns.enroll(ctx.clock.now())
    claimed = await ctx.repos.campaigns.claim_due("w1", 50, 600, ctx.clock.now())
    assert len(claimed) == 10
    stored = {
        r["id"]: r
        for r in await query(ctx, "select id, slug, definition from campaigns order by id")
    }
    templates = {
        r["id"]: (r["campaign_id"], r["template"])
        for r in await query(ctx, "select id, campaign_id, template from campaign_steps")
    }
    assert {s.campaign.id for s in claimed} == {first, second}
    for step in claimed:
        assert step.campaign.slug == stored[step.campaign.id]["slug"]
        assert step.campaign.definition == stored[step.campaign.id]["definition"]
        assert templates[step.step.id] == (step.campaign.id, step.step.template)
        assert step.step.position == 0 and step.step.is_first_of_channel
