"""The hourly scoring pass's read and write (issue 19): the columns read gives what the rows
read gave, the texts write stores what the arrays write stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from app.core.clock import ManualClock
from app.db.errors import InvalidInput
from app.jobs.bootstrap import Context
from app.scoring.features import (
    CONTEXT_COLUMNS,
    LEAD_SPEC,
    from_rendered,
    from_rendered_at,
    micros,
    to_columns,
)
from app.scoring.model import normalise_category
from app.scoring.prior import prior_model
from app.scoring.reasons import reason_texts
from tests.campaigns.helpers import load
from tests.scoring import helpers as h

DAY = timedelta(days=1)


async def _history(ctx: Context, clock: ManualClock) -> list[int]:
    """Leads with every kind of value the read renders: counts, fractions of days, a
    never-engaged lead (null recency), a click with its campaign, an SMS reply, an answered
    call, categories in mixed case and spacing, a missing category, a lead opted out."""
    now = clock.now()
    campaign = await load(ctx)
    odd = timedelta(hours=7, minutes=13, seconds=17, microseconds=123_457)
    engaged = await h.lead(ctx, 1, now - 10 * DAY - odd, industry=" HVAC ", state="NY",
                           source="Web")  # fmt: skip
    email = await h.message(ctx, engaged, "email", now - 5 * DAY, "clicked", campaign_id=campaign)
    await h.message(ctx, engaged, "sms", now - 6 * DAY - odd)
    await h.click(ctx, engaged, email, now - DAY - odd)
    await h.sms_reply(ctx, "+12125550001", now - 2 * DAY + odd)
    await h.call(ctx, engaged, "answered", now - 3 * DAY - odd)
    await h.call(ctx, engaged, "no_answer", now - 4 * DAY)
    fresh = await h.lead(ctx, 2, now - odd, industry="roofing")  # never contacted yet
    cold = await h.lead(ctx, 3, now - 3 * DAY, calls_opted_out_at=now - DAY, source=" ads")
    opened = await h.lead(ctx, 4, now - 60 * DAY, industry="Solar")
    await h.message(ctx, opened, "email", now - 40 * DAY, "opened")
    return [engaged, fresh, cold, opened]


def assert_same_columns(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        if a[name].dtype.kind == "f":
            assert np.array_equal(a[name], b[name], equal_nan=True), name
        else:
            assert a[name].tolist() == b[name].tolist(), name


async def test_the_columns_read_is_the_rows_read(ctx: Context, clock: ManualClock) -> None:
    ids = await _history(ctx, clock)
    repo, now = ctx.repos.scoring, clock.now()
    for wanted in (None, [ids[2], ids[0]], []):
        rows = to_columns(await repo.features(now, lead_ids=wanted))
        cols = from_rendered(await repo.feature_columns(now, wanted))
        assert_same_columns(rows, cols)
    cols = from_rendered(await repo.feature_columns(now))
    assert cols["lead_id"].tolist() == sorted(ids)
    assert np.isnan(cols["days_since_engagement"][ids.index(ids[1])])  # never engaged
    assert cols["industry"].tolist()[0] == "hvac" and cols["last_click_campaign"][0] == "tune-up"
    # the reasons quote the same instants: the same words from both reads
    model = prior_model()
    rows = to_columns(await repo.features(now))
    words = [reason_texts(model.groups, c, model.explain(c)[1], now) for c in (rows, cols)]
    assert words[0] == words[1]
    assert "replied by SMS yesterday" in words[1][0]  # an instant quoted


async def test_the_pairs_read_is_the_rows_read(ctx: Context, clock: ManualClock) -> None:
    """The per-call model's rows: each lead as of a call's placing, a lead twice."""
    ids = await _history(ctx, clock)
    repo, now = ctx.repos.scoring, clock.now()
    odd = timedelta(hours=3, microseconds=517)
    leads = [ids[0], ids[0], ids[2], ids[0], ids[3]]
    cutoffs = [now - 2 * DAY + odd, now - 5 * DAY, now - DAY, now - 2 * DAY + odd, now - odd]
    rows = await repo.features(now, lead_ids=leads, cutoffs=cutoffs)
    cols, at = from_rendered_at(await repo.feature_columns(now, leads, cutoffs))
    assert_same_columns(to_columns(rows), cols)
    assert at.tolist() == [micros(r["cutoff_at"]) for r in rows]
    assert len(rows) == 5 and micros(cutoffs[0]) in at.tolist()


def test_a_short_rendered_column_is_refused() -> None:
    rendered: dict[str, Any] = {"n": 2, "lead_id": "8,7", "cutoff_at": "5,5"}
    rendered |= {name: "1,2" for name, _ in LEAD_SPEC.numeric}
    rendered |= {name: [None, "x"] for name in LEAD_SPEC.categorical}
    rendered |= {name: [None, None] for name in CONTEXT_COLUMNS}
    assert from_rendered(rendered)["lead_id"].tolist() == [7, 8]  # whole: read, sorted
    with pytest.raises(ValueError, match="holds 1 values, not 2"):
        from_rendered({**rendered, "sms_replies": "1"})
    with pytest.raises(ValueError, match="holds 1 values, not 2"):
        from_rendered({**rendered, "state": ["NY"]})


async def test_the_write_stores_each_lead_its_score(ctx: Context, clock: ManualClock) -> None:
    ids = await _history(ctx, clock)
    scores = [12.3, 0.1, 99.9, 41.7]
    result = await ctx.repos.scoring.apply_scores(
        ids, scores, [["a"], [], ["b", "but c"], ["d"]], 40.0, clock.now()
    )
    assert result.updated == 4 and [r["lead_id"] for r in result.newly_hot] == [ids[2], ids[3]]
    rows = await h.execute(ctx, "select id, score, score_reasons, hot_at from leads")
    stored = {r["id"]: (r["score"], r["score_reasons"], r["hot_at"]) for r in rows}
    # real: the float32 nearest to each score, printed back as the shortest text
    assert [stored[i][0] for i in ids] == scores
    assert [stored[i][1] for i in ids] == [["a"], [], ["b", "but c"], ["d"]]
    assert [stored[i][2] is not None for i in ids] == [False, False, True, True]


async def test_the_write_refuses_lists_of_different_lengths(
    ctx: Context, clock: ManualClock
) -> None:
    with pytest.raises(InvalidInput, match="2 ids, 1 scores"):
        await ctx.transport.call(
            "scoring_apply",
            {"p_ids": "1,2", "p_scores": "10.5", "p_reasons": [["a"], ["b"]],
             "p_hot_threshold": 40.0, "p_now": clock.now()},
        )  # fmt: skip


def test_categories_normalise_alike_whatever_their_values() -> None:
    texts = [" HVAC", None, "hvac", "Solar ", " HVAC"]
    assert normalise_category(texts).tolist() == ["hvac", "", "hvac", "solar", "hvac"]
    mixed = [" HVAC", None, 1, 1.0, True, "1"]  # numbers one by one: 1 and 1.0 differ
    assert normalise_category(mixed).tolist() == ["hvac", "", "1", "1.0", "true", "1"]
    assert normalise_category(iter([])).tolist() == []
