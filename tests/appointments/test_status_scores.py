"""The status page's lead scores (hot leads, scored leads) come from change rows kept by
triggers (migration 20261210220000), not a count over every lead at each refresh: after
every kind of write that moves them (an import of new and returning leads, an hourly
rescore that makes leads hot and cools others, a lead scored for the first time, an erased
lead, a table emptied), the cached page equals the rows alone (internal.status_aggregates)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from app.core.clock import ManualClock
from app.db.console import ConsoleRepository
from app.db.models import ConsentIn, LeadIn
from app.jobs.bootstrap import Context

TZ = "America/New_York"
HOT = 70.0


def lead(i: int, **extra: Any) -> LeadIn:
    """A lead as a GoHighLevel-style export row arrives: name, phone, email, a web-form
    consent."""
    return LeadIn(
        name=f"Dana Whitfield {i}", phone=f"+1415555{i:04d}", email=f"dana{i}@brightside.example",
        industry="dental", state="CA", timezone="America/Los_Angeles", source="ghl_export",
        consents=[ConsentIn(channel="sms", source="web_form", text="I agree to texts",
                            url="https://brightside.example/quote")],
        **extra,
    )  # fmt: skip


def page(dsn: str, now: Any) -> dict[str, Any]:
    """The cached scores, asserted equal to what the rows alone give."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select c.value->'scores', internal.status_aggregates(%s, %s)->'scores'"
            " from status_cache c where c.tz = %s",
            (TZ, now, TZ),
        ).fetchone()
    assert row is not None
    assert row[0] == row[1]
    return dict(row[0])


async def test_scores_follow_imports_rescoring_erasure_and_truncate(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    now = clock.now()
    await ctx.repos.leads.upsert([lead(i) for i in range(12)], now)
    await ctx.repos.appointments.status_refresh(TZ, now)
    assert page(database_dsn, now) == {"hot_leads": 0, "scored_leads": 0}

    with psycopg.connect(database_dsn) as conn:
        ids = [r[0] for r in conn.execute("select id from leads order by id")]
    # the hourly rescore: 8 leads scored, 3 of them hot
    scores = [91.0, 85.0, 72.0, 40.0, 12.5, 55.0, 63.0, 8.0]
    reasons = [["opened the last email"]] * 8
    await ctx.repos.scoring.apply_scores(ids[:8], scores, reasons, HOT, now)
    now += timedelta(hours=1)
    await ctx.repos.appointments.status_refresh(TZ, now)
    assert page(database_dsn, now) == {"hot_leads": 3, "scored_leads": 8}

    # the export re-imported: changed and unchanged rows, and two new people
    await ctx.repos.leads.upsert(
        [lead(0), lead(1, company="Brightside Dental"), lead(40), lead(41)], now
    )
    # the next rescore: one hot lead cools, one becomes hot, a new lead is scored
    await ctx.repos.scoring.apply_scores(
        [ids[0], ids[3], ids[9]], [30.0, 88.0, 50.0], reasons[:3], HOT, now
    )
    # an operator erases a hot, scored lead
    assert await ConsoleRepository(ctx.transport).erase(ids[1], "s-1", now)
    now += timedelta(hours=1)
    await ctx.repos.appointments.status_refresh(TZ, now)
    assert page(database_dsn, now) == {"hot_leads": 2, "scored_leads": 8}
    # a second refresh in the same hour (a page load) reads the folded rows alike
    await ctx.repos.appointments.status_refresh(TZ, now + timedelta(minutes=5))
    assert page(database_dsn, now + timedelta(minutes=5)) == {"hot_leads": 2, "scored_leads": 8}

    # a lead written with its score already set, then the table emptied
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(
            "insert into leads (name, phone, score, hot_at, created_at)"
            " values ('Sam Ortiz', '+14155550999', 77, %s, %s)",
            (now, now),
        )
        with psycopg.connect(database_dsn) as other:
            other.execute("select internal.status_rollup(%s)", (now,))
            other.commit()
    await ctx.repos.appointments.status_refresh(TZ, now)
    assert page(database_dsn, now) == {"hot_leads": 3, "scored_leads": 9}
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute("truncate leads cascade")
    await ctx.repos.appointments.status_refresh(TZ, now)
    assert page(database_dsn, now) == {"hot_leads": 0, "scored_leads": 0}


async def test_a_rescore_that_keeps_every_lead_scored_logs_nothing(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    now = clock.now()
    await ctx.repos.leads.upsert([lead(i) for i in range(5)], now)
    with psycopg.connect(database_dsn) as conn:
        ids = [r[0] for r in conn.execute("select id from leads order by id")]
    await ctx.repos.scoring.apply_scores(ids, [10.0, 20.0, 30.0, 40.0, 90.0], [[]] * 5, HOT, now)
    await ctx.repos.appointments.status_refresh(TZ, now)
    with psycopg.connect(database_dsn) as conn:
        before = conn.execute("select count(*) from status_score_counts").fetchone()
    # every score moves, none turns null or hot/cold
    await ctx.repos.scoring.apply_scores(ids, [11.0, 21.0, 31.0, 41.0, 95.0], [[]] * 5, HOT, now)
    with psycopg.connect(database_dsn) as conn:
        after = conn.execute("select count(*) from status_score_counts").fetchone()
    assert before == after == (1,)
    assert page(database_dsn, now) == {"hot_leads": 1, "scored_leads": 5}
