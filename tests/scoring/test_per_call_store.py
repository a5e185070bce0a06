"""The per-call model's rows come from the per-call feature store (issue 19, stop 26: each
retrain of a simulated month recomputed every call of the window as of its placed_at): the
same features as `scoring_features` at each call's placed_at, each call computed once (a
later retrain computes only the calls reported since), a call that changed computed again,
an erased person's rows gone, the calls reported before the window deleted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from app.core.clock import ManualClock
from app.db.console import ConsoleRepository
from app.jobs.bootstrap import Context
from app.scoring.features import LEAD_SPEC, from_rendered_at
from app.scoring.leads import call_columns
from tests.scoring import helpers as h

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
WINDOW = 180 * DAY


async def _world(ctx: Context, now: datetime) -> list[int]:
    """Six leads, each emailed, texted and called twice over the last days (the first call
    unanswered, the second answered or booked), some opening, clicking or replying: the
    per-call rows differ by what each lead had done by each call."""
    leads = []
    for n in range(6):
        lead = await h.lead(ctx, n, now - 9 * DAY, source="referral" if n % 2 else "Web ",
                            state="NY" if n % 3 else "TX")  # fmt: skip
        sent = now - 8 * DAY + n * HOUR
        status = "clicked" if n % 3 == 0 else "opened" if n % 3 == 1 else "sent"
        email = await h.message(ctx, lead, "email", sent, status, seen_at=sent + 2 * HOUR)
        if n % 3 == 0:
            await h.click(ctx, lead, email, sent + 2 * HOUR)
        await h.message(ctx, lead, "sms", sent + DAY)
        if n % 2 == 0:
            await h.sms_reply(ctx, f"+1212555{n:04d}", sent + DAY + HOUR)
        first = now - 5 * DAY + n * HOUR
        await h.call(ctx, lead, "no_answer", first + 2 * MINUTE, state_started=first)
        second = now - 2 * DAY + n * HOUR
        await h.call(ctx, lead, "booked" if n % 2 else "answered", second + 4 * MINUTE,
                     state_started=second)  # fmt: skip
        leads.append(lead)
    return leads


async def _stored(ctx: Context, now: datetime) -> tuple[dict[str, Any], list[Any]]:
    """The store's read of the window at `now` as the per-call model takes it."""
    repo = ctx.repos.scoring
    calls = await repo.call_outcomes(now - WINDOW, now)
    cols, _ = call_columns(await repo.call_feature_columns(now - WINDOW, now), calls)
    return cols, calls


async def _recomputed(ctx: Context, now: datetime, calls: list[Any]) -> dict[str, Any]:
    """scoring_features of each call's (lead, placed_at), in the calls' order: what every
    retrain computed before the store."""
    read, at = from_rendered_at(await ctx.repos.scoring.feature_columns(
        now, [k.lead_id for k in calls], [k.placed_at for k in calls]))  # fmt: skip
    keys = list(zip(read["lead_id"].tolist(), at.tolist(), strict=True))
    rows = [keys.index((k.lead_id, round(k.placed_at.timestamp() * 1e6))) for k in calls]
    return {name: values[rows] for name, values in read.items()}


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    names = ["lead_id", *(n for n, _ in LEAD_SPEC.numeric), *LEAD_SPEC.categorical]
    for name in names:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


async def test_the_store_holds_what_scoring_features_gives(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await _world(ctx, now)
    cols, calls = await _stored(ctx, now)
    assert len(calls) == 12 and len(cols["lead_id"]) == 12
    _same(cols, await _recomputed(ctx, now, calls))
    assert set(cols["sms_replies"].tolist()) == {0.0, 1.0}  # the world's rows do differ
    assert set(cols["calls_unanswered"].tolist()) == {0.0, 1.0}
    again, _ = await _stored(ctx, now)  # read back from the store: the same columns
    _same(again, cols)


async def test_a_retrain_computes_only_the_calls_reported_since(
    ctx: Context, clock: ManualClock
) -> None:
    """A lead's own column changed after its calls were stored does not rewrite them (the
    documented choice, docs/scoring.md "The snapshot store"); its call reported since is
    computed with the new value. Recomputing every call would give the new value to all."""
    now = clock.now()
    leads = await _world(ctx, now)
    await _stored(ctx, now)
    await h.execute(ctx, "update leads set state = 'ZZ' where id = %s", leads[0])
    later = now + 6 * HOUR
    await h.call(ctx, leads[0], "answered", now + 2 * HOUR, state_started=now + HOUR)
    cols, calls = await _stored(ctx, later)
    states = [s for s, k in zip(cols["state"].tolist(), calls, strict=True)
              if k.lead_id == leads[0]]  # fmt: skip
    assert states == ["tx", "tx", "zz"]
    fresh = await _recomputed(ctx, later, calls)
    assert set(fresh["state"][fresh["lead_id"] == leads[0]].tolist()) == {"zz"}


async def test_a_call_that_changed_is_computed_again(ctx: Context, clock: ManualClock) -> None:
    now = clock.now()
    await _world(ctx, now)
    _, calls = await _stored(ctx, now)
    moved = calls[-1]  # its placed_at moved a day back: before the lead's second email open
    await h.execute(ctx, "update calls set placed_at = placed_at - interval '6 days' "
                    "where id = %s", moved.call_id)  # fmt: skip
    cols, calls = await _stored(ctx, now)
    _same(cols, await _recomputed(ctx, now, calls))
    stored = await h.execute(ctx, "select placed_at from scoring_call_rows where call_id = %s",
                             moved.call_id)  # fmt: skip
    assert stored == [{"placed_at": moved.placed_at - 6 * DAY}]


async def test_an_erased_person_leaves_no_call_row(ctx: Context, clock: ManualClock) -> None:
    now = clock.now()
    leads = await _world(ctx, now)
    before, _ = await _stored(ctx, now)
    assert await ConsoleRepository(ctx.transport).erase(leads[1], "test", now)
    left = await h.execute(ctx, "select count(*) n from scoring_call_rows where lead_id = %s",
                           leads[1])  # fmt: skip
    assert left == [{"n": 0}]
    after, calls = await _stored(ctx, now)
    assert leads[1] not in after["lead_id"].tolist() and len(calls) == 10
    kept = before["lead_id"] != leads[1]
    _same(after, {name: values[kept] for name, values in before.items()})


async def test_calls_reported_before_the_window_are_deleted(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await _world(ctx, now)
    await _stored(ctx, now)
    later = now + WINDOW - 3 * DAY  # the first calls (5 days back) left the window
    cols, calls = await _stored(ctx, later)
    assert len(calls) == 6 and len(cols["lead_id"]) == 6
    old = await h.execute(ctx, "select count(*) n from scoring_call_rows where received_at <= %s",
                          later - WINDOW)  # fmt: skip
    assert old == [{"n": 0}]
