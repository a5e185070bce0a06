"""The snapshot store holds nothing of an erased person, also when the erasure and a retrain's
snapshot fill run at the same time: the fill locks the leads it may store rows of (there is
no foreign key to leads whose check did so row by row), and a lead's deletion deletes its
rows (a trigger on leads)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from typing import Any

import psycopg

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.scoring.features import snapshot_times
from tests.scoring import helpers as h
from tests.scoring.test_point_in_time import _seed_world


def _fill(dsn: str, now: datetime, t: datetime, out: dict[str, Any]) -> None:
    """A retrain's fill of snapshot `t` on a connection of its own (run in a thread)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        out["pid"] = conn.info.backend_pid
        out["started"].set()
        out["rows"] = conn.execute(
            "select cutoff_at, n from scoring_snapshots_fill(%s, %s)", (now, [t])
        ).fetchall()


async def test_a_fill_waits_for_an_erasure_under_way_and_stores_no_row_of_the_person(
    ctx: Context, clock: ManualClock, database_dsn: str
) -> None:
    now = clock.now()
    await _seed_world(ctx, now)
    t = snapshot_times(now, 3, 1, 6.0)[-1]  # a snapshot time whose window has closed
    at_risk = await h.execute(
        ctx,
        "select lead_id from scoring_features(%s, p_times => %s, p_at_risk => true)",
        now,
        [t],
    )
    assert len(at_risk) > 1
    erased = at_risk[0]["lead_id"]
    with psycopg.connect(database_dsn) as eraser:  # the console's erasure, not committed yet
        assert eraser.execute("select console_erase_lead(%s, 'test', %s)", (erased, now)).fetchone()
        out: dict[str, Any] = {"started": threading.Event()}
        filling = asyncio.create_task(asyncio.to_thread(_fill, database_dsn, now, t, out))
        await asyncio.to_thread(out["started"].wait)
        waiting = []
        for _ in range(400):  # until the fill waits for the erasure's lock on the lead
            waiting = await h.execute(
                ctx, "select 1 from pg_stat_activity where pid = %s and wait_event_type = 'Lock'",
                out["pid"],
            )  # fmt: skip
            if waiting or filling.done():
                break
            await asyncio.sleep(0.02)
        assert waiting and not filling.done()
        eraser.commit()
    await filling
    assert out["rows"] == [(t, len(at_risk) - 1)]
    rows = await h.execute(
        ctx, "select lead_id from scoring_snapshots where cutoff_at = %s order by lead_id", t
    )
    assert [r["lead_id"] for r in rows] == sorted(r["lead_id"] for r in at_risk[1:])
    rendered = await h.execute(
        ctx, "select columns->>'lead_id' ids from scoring_snapshot_times where cutoff_at = %s", t
    )
    assert str(erased) not in rendered[0]["ids"].split(",")


async def test_erasing_a_lead_deletes_its_rows_of_every_snapshot(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await _seed_world(ctx, now)
    times = snapshot_times(now, 3, 1, 6.0)
    await ctx.repos.scoring.fill_snapshots(now, times)
    held = await h.execute(
        ctx, "select lead_id, count(*) n from scoring_snapshots group by 1 order by 2 desc"
    )
    erased, kept = held[0]["lead_id"], sum(r["n"] for r in held[1:])
    assert held[0]["n"] > 1
    await h.execute(ctx, "select console_erase_lead(%s, 'test', %s)", erased, now)
    left = await h.execute(ctx, "select lead_id, count(*) n from scoring_snapshots group by 1")
    assert erased not in {r["lead_id"] for r in left} and sum(r["n"] for r in left) == kept
    assert now - timedelta(days=3) <= min(times)


async def test_truncating_the_leads_empties_the_store_as_the_cascade_did(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await _seed_world(ctx, now)
    await ctx.repos.scoring.fill_snapshots(now, snapshot_times(now, 3, 1, 6.0))
    assert (await h.execute(ctx, "select count(*) n from scoring_snapshots"))[0]["n"] > 0
    await h.execute(ctx, "truncate leads cascade")
    assert await h.execute(ctx, "select count(*) n from scoring_snapshots") == [{"n": 0}]
