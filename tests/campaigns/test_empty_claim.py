"""An empty drip claim returns at once (issue 19, migration 20261208140100).

Most drip runs of a simulated day claim nothing, and every run ends on a claim that comes
back short. With nothing claimed, `claim_due_steps` still ran its checks-and-settles
statement and its snapshot statement, each writing and returning nothing (7.4 -> 2.9 ms a
call at load ~5: bench/drip_sql_ab.py --empty). A speed change only: the claim returns and
leases the same rows either way.
"""

from __future__ import annotations

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import add_leads, load, query


async def test_the_claim_returns_before_its_checks_when_nothing_is_due(ctx: Context) -> None:
    [row] = await query(ctx, "select pg_get_functiondef('claim_due_steps'::regproc) body")
    body = row["body"]
    early = body.index("if cardinality(v_ids) = 0 then\n    return;\n  end if;")
    assert body.index("for update of e skip locked) x;") < early < body.index("with checked as")


async def test_an_empty_claim_then_a_full_one(ctx: Context, clock: ManualClock) -> None:
    await load(ctx)
    await add_leads(ctx, 2)
    assert await ctx.repos.campaigns.claim_due("w1", 500, 600, clock.now()) == []
    await ctx.repos.campaigns.enroll(clock.now())
    steps = await ctx.repos.campaigns.claim_due("w1", 500, 600, clock.now())
    assert [s.position for s in steps] == [0, 0]
    assert await ctx.repos.campaigns.claim_due("w2", 500, 600, clock.now()) == []
    leases = await query(ctx, "select lease_owner from enrollments")
    assert [r["lease_owner"] for r in leases] == ["w1", "w1"]
