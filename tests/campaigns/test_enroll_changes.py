"""enroll_leads reads only the leads changed since a campaign's last complete pass (issue 19,
migration 20261211100000): the same leads, in the same order, as a pass over every lead.

Each case is what an operator or a lead does between two campaign_manager runs; after each
run the enrolments are compared with what a full pass over every lead (the function before
the change: its memory of complete passes emptied, in a rolled-back transaction) enrolls at
the same instant."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import dict_row

from app.campaigns.definition import load_campaign_yaml
from app.core.clock import ManualClock
from app.db.console import ConsoleRepository
from app.db.models import LeadIn
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import load, query
from tests.consented import consented_lead

DAY = datetime.fromisoformat("2026-11-27T15:00:00+00:00")

HVAC = """
slug: hvac-tune-up
name: HVAC tune-up
audience: {industry: [hvac], min_score: 50}
caps: {new_per_day: %d}
steps:
  - channel: sms
    delay: 0m
    body: >-
      Hi {{ lead.first_name }}, {{ business.name }} here: time for your tune-up?
      Reply STOP to opt out.
"""

ENROLLED = (
    "select e.lead_id from enrollments e join campaigns c on c.id = e.campaign_id"
    " where c.slug = 'hvac-tune-up' and e.enrolled_at = %(now)s order by e.id"
)


def lead(i: int, **fields: Any) -> LeadIn:
    return consented_lead(
        name=f"Lead {i}", phone=f"+1212555{i:04d}", email=f"lead{i}@example.com", **fields
    )


async def campaign(ctx: Context, cap: int = 100, audience: str | None = None) -> int:
    text = HVAC % cap
    if audience is not None:
        text = text.replace("{industry: [hvac], min_score: 50}", audience)
    return await load(ctx, text)


async def scores(ctx: Context, by_lead: dict[int, float]) -> None:
    """The hourly scoring's write (scoring_apply), as the growth job makes it."""
    ids = list(by_lead)
    await ctx.repos.scoring.apply_scores(
        ids, [by_lead[i] for i in ids], [[] for _ in ids], 80.0, ctx.clock.now()
    )


async def full_pass(ctx: Context, now: datetime) -> list[int]:
    """The leads a pass over every lead enrolls at `now` (rolled back)."""
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with (
        pg._pool.connection() as conn,
        conn.transaction(force_rollback=True),
        conn.cursor(row_factory=dict_row) as cur,
    ):
        await cur.execute("delete from enroll_passes")
        await cur.execute("select * from enroll_leads(%(now)s)", {"now": now})
        await cur.execute(ENROLLED, {"now": now})
        return [r["lead_id"] for r in await cur.fetchall()]


async def run(ctx: Context) -> list[int]:
    """A campaign_manager run's enrolment (the repository's call): the leads it enrolled, in
    order; checked against a full pass at the same instant first."""
    now = ctx.clock.now()
    expected = await full_pass(ctx, now)
    await ctx.repos.campaigns.enroll(now)
    got = [r["lead_id"] for r in await query(ctx, ENROLLED.replace("%(now)s", "%s"), now)]
    assert got == expected
    return got


async def later(clock: ManualClock, minutes: int = 15) -> None:
    clock.set(clock.now() + timedelta(minutes=minutes))


async def test_a_lead_whose_score_rises_into_min_score_is_enrolled(
    ctx: Context, clock: ManualClock
) -> None:
    clock.set(DAY)
    await campaign(ctx)
    await ctx.repos.leads.upsert([lead(1, industry="hvac"), lead(2, industry="hvac")], DAY)
    await scores(ctx, {1: 70.0, 2: 30.0})
    assert await run(ctx) == [1]
    await later(clock)
    assert await run(ctx) == []  # nothing changed: nobody new
    await scores(ctx, {1: 20.0, 2: 60.0})  # 1 cools off (stays enrolled), 2 warms up
    await later(clock)
    assert await run(ctx) == [2]


async def test_a_lead_updated_to_a_matching_industry_or_imported_is_enrolled(
    ctx: Context, clock: ManualClock
) -> None:
    clock.set(DAY)
    await campaign(ctx, audience="{industry: [hvac]}")
    await ctx.repos.leads.upsert([lead(1, industry="hvac"), lead(2, industry="plumbing")], DAY)
    assert await run(ctx) == [1]
    await later(clock)
    # the CRM export of the next week: lead 2 is an HVAC shop now
    await ctx.repos.leads.upsert([lead(2, industry="hvac")], clock.now())
    assert await run(ctx) == [2]
    await later(clock)
    await ctx.repos.leads.upsert([lead(3, industry="hvac")], clock.now())  # a new lead
    assert await run(ctx) == [3]


async def test_a_campaign_whose_audience_is_edited_enrolls_the_leads_it_now_reaches(
    ctx: Context, clock: ManualClock
) -> None:
    clock.set(DAY)
    await campaign(ctx, audience="{industry: [hvac]}")
    await ctx.repos.leads.upsert([lead(1, industry="hvac"), lead(2, industry="plumbing")], DAY)
    assert await run(ctx) == [1]
    await later(clock)
    assert await run(ctx) == []
    # the operator widens the campaign to plumbers: no lead changed
    await campaign(ctx, audience="{industry: [hvac, plumbing]}")
    await later(clock)
    assert await run(ctx) == [2]


async def test_a_capped_day_continues_the_next_day_hottest_first(
    ctx: Context, clock: ManualClock
) -> None:
    clock.set(DAY)
    await campaign(ctx, cap=2, audience="{industry: [hvac]}")
    await ctx.repos.leads.upsert([lead(i, industry="hvac") for i in range(1, 6)], DAY)
    await scores(ctx, {1: 10.0, 2: 90.0, 3: 50.0, 4: 70.0})  # 5: not scored yet
    assert await run(ctx) == [2, 4]
    await later(clock)
    assert await run(ctx) == []  # today's two are enrolled
    clock.set(DAY + timedelta(days=1))
    await ctx.repos.leads.upsert([lead(6, industry="hvac")], clock.now())
    await scores(ctx, {6: 95.0})  # a new hot lead jumps the line
    assert await run(ctx) == [6, 3]
    clock.set(DAY + timedelta(days=2))
    assert await run(ctx) == [1, 5]
    await later(clock)
    assert await run(ctx) == []


async def test_an_erased_lead_is_gone_and_an_unenrolled_lead_is_enrolled_again(
    ctx: Context, clock: ManualClock
) -> None:
    clock.set(DAY)
    await campaign(ctx, audience="{industry: [hvac]}")
    await ctx.repos.leads.upsert([lead(i, industry="hvac") for i in range(1, 4)], DAY)
    assert await run(ctx) == [1, 2, 3]
    await later(clock)
    assert await ConsoleRepository(ctx.transport).erase(2, "operator", clock.now())
    # the erased person in the next import is refused; nobody is enrolled again
    await ctx.repos.leads.upsert([lead(2, industry="hvac")], clock.now())
    assert await run(ctx) == []
    await later(clock)
    # an enrollment removed by hand (its lead kept): the lead is enrolled again, as before
    await query(ctx, "delete from enrollments where lead_id = 3 returning id")
    assert await run(ctx) == [3]


async def test_a_lifted_hold_and_a_resumed_campaign_enroll_the_leads_they_held_back(
    ctx: Context, clock: ManualClock
) -> None:
    clock.set(DAY)
    slug = "hvac-tune-up"
    await campaign(ctx, audience="{industry: [hvac]}")
    await ctx.repos.leads.upsert([lead(1, industry="hvac"), lead(2, industry="hvac")], DAY)
    # lead 2 held for a human (as internal.consent_hold marks it)
    await query(
        ctx, "update leads set needs_review = 'consent: none on record' where id = 2 returning id"
    )
    assert await run(ctx) == [1]
    await later(clock)
    await ctx.repos.consent.release("+12125550002", "operator", "consent on paper", clock.now())
    assert await run(ctx) == [2]
    await ConsoleRepository(ctx.transport).pause(slug, "holiday week", clock.now())
    await later(clock)
    await ctx.repos.leads.upsert([lead(3, industry="hvac")], clock.now())
    assert await run(ctx) == []  # paused: nobody enrolled
    await later(clock)
    await ctx.repos.manager.resume(slug, clock.now())
    assert await run(ctx) == [3]


async def test_a_run_with_nothing_changed_reads_no_lead(ctx: Context, clock: ManualClock) -> None:
    clock.set(DAY)
    await campaign(ctx, audience="{industry: [hvac]}")
    await ctx.repos.leads.upsert([lead(i, industry="hvac") for i in range(1, 4)], DAY)
    assert await run(ctx) == [1, 2, 3]
    await later(clock)
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    reads = "select seq_scan, idx_scan from pg_stat_xact_user_tables where relname = 'leads'"
    async with pg._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        # the backend's counts not yet reported are in the view too: the difference counts
        await cur.execute(reads)
        before = await cur.fetchall()
        await cur.execute("select * from enroll_leads(%(now)s)", {"now": clock.now()})
        await cur.execute(reads)
        assert await cur.fetchall() == before
        await cur.execute("select * from leads where id = 1")  # the reading sees a read
        await cur.execute(reads)
        assert await cur.fetchall() != before
        await conn.rollback()


async def test_every_run_of_a_shuffled_week_matches_a_full_pass(
    ctx: Context, clock: ManualClock
) -> None:
    """Random imports, score moves, industry and status changes, opt-outs and their
    lifting, audience edits and day changes (seeded): each run as a full pass."""
    rng = random.Random(28)
    clock.set(DAY)
    await campaign(ctx, cap=4, audience="{industry: [hvac, plumbing], min_score: 30}")
    n = 12
    await ctx.repos.leads.upsert(
        [lead(i, industry=rng.choice(["hvac", "plumbing", "roofing"])) for i in range(1, n + 1)],
        DAY,
    )
    for _ in range(40):
        move = rng.choice(["import", "score", "industry", "status", "optout", "audience", "day"])
        who = rng.randint(1, n)
        if move == "import":
            n += 1
            await ctx.repos.leads.upsert(
                [lead(n, industry=rng.choice(["hvac", "roofing"]))], clock.now()
            )
        elif move == "score":
            await scores(ctx, {who: float(rng.randint(0, 100))})
        elif move == "industry":
            industry = rng.choice(["hvac", "plumbing", "roofing"])
            await ctx.repos.leads.upsert([lead(who, industry=industry)], clock.now())
        elif move == "status":
            status = rng.choice(["new", "contacted", "lost"])
            await query(ctx, "update leads set status = %s where id = %s returning id", status, who)
        elif move == "optout":
            value = rng.choice([None, clock.now()])
            await query(
                ctx,
                "update leads set email_opted_out_at = %s, sms_opted_out_at = %s,"
                " calls_opted_out_at = %s where id = %s returning id",
                value, value, value, who,
            )  # fmt: skip
        elif move == "audience":
            industries = rng.choice(["[hvac]", "[hvac, plumbing]", "[roofing, hvac]"])
            low = rng.choice([0, 30, 60])
            await ctx.repos.campaigns.upsert(
                load_campaign_yaml(
                    (HVAC % 4).replace(
                        "{industry: [hvac], min_score: 50}",
                        f"{{industry: {industries}, min_score: {low}}}",
                    )
                ).to_row(),
                clock.now(),
            )
        else:
            clock.set(clock.now() + timedelta(days=1))
        await later(clock)
        await run(ctx)
