"""The training set comes from the snapshot feature store (issue 19: a simulated month
recomputed every snapshot of the window at each of its four retrains a day): the same rows
as `scoring_features` at the same snapshot times, each snapshot computed and rendered once (a
later retrain computes only the new ones and renders none), none before the first lead, an
erased person's rows and rendering gone, the snapshots older than the window deleted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from app.core.clock import ManualClock
from app.db.console import ConsoleRepository
from app.db.scoring import TrainingChunk
from app.jobs.bootstrap import Context
from app.scoring.features import LEAD_SPEC, snapshot_times
from app.scoring.leads import training_rows
from app.scoring.training_set import from_chunks, training_set
from tests.conftest import make_settings
from tests.scoring import helpers as h
from tests.scoring.test_point_in_time import _seed_world

SETTINGS = {"scoring_horizon_days": 1, "scoring_snapshot_hours": 6.0,
            "scoring_train_window_days": 180}  # fmt: skip
KEYS = ["lead_id", "cutoff_at", "label", *(n for n, _ in LEAD_SPEC.numeric),
        *LEAD_SPEC.categorical]  # fmt: skip
HOURS6 = timedelta(hours=6)


def _settings(**extra: Any) -> Any:
    return make_settings(nightshift_env="development", **{**SETTINGS, **extra})


def _spy_fills(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> list[list[datetime]]:
    repo, fills = ctx.repos.scoring, []
    inner = repo.fill_snapshots

    async def counted(now: datetime, times: Any) -> dict[datetime, int]:
        fills.append(list(times))
        return await inner(now, times)

    monkeypatch.setattr(repo, "fill_snapshots", counted)
    return fills


async def _reference(ctx: Context, now: datetime, times: list[datetime]) -> list[dict[str, Any]]:
    """The rows scoring_features gives at `times` (at risk, labelled), as the store keeps."""
    found = await ctx.repos.scoring.features(now, times=times, at_risk=True, horizon_days=1)
    return [{k: r[k] for k in KEYS} for r in found if r["label"] is not None]


def _normalised(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        r = dict(r)
        for name in LEAD_SPEC.categorical:
            r[name] = (r[name] or "").strip().lower()
        for name, _ in LEAD_SPEC.numeric:
            r[name] = None if r[name] is None or r[name] != r[name] else float(r[name])
        out.append(r)
    return out


async def test_the_store_holds_what_scoring_features_gives(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    await _seed_world(ctx, now)  # 24 leads created over the last 5 days, every fact before now
    fills = _spy_fills(ctx, monkeypatch)
    rows = await training_rows(ctx.repos.scoring, now, _settings())
    times = [t for t in snapshot_times(now, 180, 1, 6.0) if t >= now - timedelta(days=5)]
    assert rows and _normalised(rows) == _normalised(await _reference(ctx, now, times))
    # every snapshot since the first lead computed once (chunks of 7, newest first), none of
    # the ~700 of the window before it
    computed = [t for chunk in fills for t in chunk]
    assert len(computed) == len(set(computed)) and 1 <= len(fills) <= 3
    assert min(computed) >= now - timedelta(days=5) and max(computed) == times[-1]
    again = await training_rows(ctx.repos.scoring, now, _settings())  # read, not computed
    assert _normalised(again) == _normalised(rows) and len(fills) <= 3


async def test_a_retrain_computes_only_the_new_snapshot(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    await _seed_world(ctx, now)
    await training_set(ctx.repos.scoring, now, _settings())
    fills = _spy_fills(ctx, monkeypatch)
    later = now + HOURS6  # the next retrain: one more snapshot's label window has closed
    data = await training_set(ctx.repos.scoring, later, _settings())
    newest = snapshot_times(later, 180, 1, 6.0)[-1]
    assert fills == [[newest]]
    times = [t for t in snapshot_times(later, 180, 1, 6.0) if t >= now - timedelta(days=5)]
    assert _normalised(data.rows()) == _normalised(await _reference(ctx, later, times))


async def test_no_lead_no_read(ctx: Context, clock: ManualClock) -> None:
    data = await training_set(ctx.repos.scoring, clock.now(), _settings())
    assert len(data) == 0
    assert await h.execute(ctx, "select * from scoring_snapshot_times") == []


async def test_an_erased_person_leaves_no_snapshot_row(ctx: Context, clock: ManualClock) -> None:
    now = clock.now()
    await _seed_world(ctx, now)
    rows = await training_rows(ctx.repos.scoring, now, _settings())
    erased = rows[0]["lead_id"]
    assert await ConsoleRepository(ctx.transport).erase(erased, "test", now)
    left = await h.execute(ctx, "select count(*) n from scoring_snapshots where lead_id = %s",
                           erased)  # fmt: skip
    assert left == [{"n": 0}]
    after = await training_rows(ctx.repos.scoring, now, _settings())
    assert _normalised(after) == _normalised([r for r in rows if r["lead_id"] != erased])


async def test_snapshots_older_than_the_window_are_deleted(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await _seed_world(ctx, now)
    await training_set(ctx.repos.scoring, now, _settings(scoring_train_window_days=7))
    held = await h.execute(ctx, "select min(cutoff_at) t from scoring_snapshot_times")
    assert held[0]["t"] is not None and held[0]["t"] < now - timedelta(days=2)
    later = now + timedelta(days=6)  # the window (7 days) now starts after the oldest ones
    await training_set(ctx.repos.scoring, later, _settings(scoring_train_window_days=7))
    for table in ("scoring_snapshot_times", "scoring_snapshots"):
        old = await h.execute(ctx, f"select count(*) n from {table} where cutoff_at < %s",
                              later - timedelta(days=7))  # fmt: skip
        assert old == [{"n": 0}], table


async def test_a_stored_snapshot_keeps_the_value_it_was_computed_with(
    ctx: Context, clock: ManualClock
) -> None:
    """The documented choice (docs/scoring.md, "The snapshot store"): a lead's own columns
    changed after a snapshot was stored do not rewrite it; the label is read when used."""
    now = clock.now()
    await _seed_world(ctx, now)
    rows = await training_rows(ctx.repos.scoring, now, _settings())
    lead = rows[0]["lead_id"]
    await h.execute(ctx, "update leads set state = 'ZZ' where id = %s", lead)
    after = await training_rows(ctx.repos.scoring, now, _settings())
    assert _normalised(after) == _normalised(rows)  # stored as computed
    fresh = await _reference(ctx, now, [rows[0]["cutoff_at"]])
    assert {r["state"] for r in fresh if r["lead_id"] == lead} == {"ZZ"}


def test_the_chunks_are_parsed_labelled_and_sorted_by_cutoff_then_lead() -> None:
    """scoring_training_chunks' snapshots: numeric columns as text ('nan': null), one shared
    unsorted order per snapshot, the snapshot's booked leads; the set comes back sorted,
    every column moved with its row, labelled by its own snapshot's bookings."""
    names = [n for n, _ in LEAD_SPEC.numeric]
    first: dict[str, Any] = {n: "0,2" for n in names}
    first.update(lead_id="7,5", industry=["HVAC ", "plumbing"], source=["a", "c"],
                 state=["TX", "NY"], days_since_engagement="1.5,0.25")  # fmt: skip
    second: dict[str, Any] = {n: "1" for n in names}
    second.update(lead_id="3", industry=[None], source=["b"], state=["CA"],
                  days_since_engagement="nan")  # fmt: skip
    empty: dict[str, Any] = {n: "" for n in names}
    empty.update(lead_id="", industry=[], source=[], state=[])
    chunks = [TrainingChunk(21600.0, 2, first, [7, 3]), TrainingChunk(32400.0, 0, empty, []),
              TrainingChunk(43200.0, 1, second, [5])]  # fmt: skip
    data = from_chunks(chunks)
    assert data.cols["lead_id"].tolist() == [5, 7, 3]  # (21600, 5), (21600, 7), (43200, 3)
    # lead 3 was booked after the first cutoff, lead 5 after the second: neither row is theirs
    assert data.times.tolist() == [21600.0, 21600.0, 43200.0] and data.y.tolist() == [0, 1, 0]
    assert data.cols["industry"].tolist() == ["plumbing", "hvac", ""]
    assert data.cols["emails_sent"].tolist() == [2.0, 0.0, 1.0]
    engaged = data.cols["days_since_engagement"]
    assert engaged[0] == 0.25 and engaged[1] == 1.5 and np.isnan(engaged[2])
    short = TrainingChunk(21600.0, 2, {**first, "clicks": "0"}, [])
    with pytest.raises(ValueError):  # a column short of values is refused, never misaligned
        from_chunks([short])
    with pytest.raises(ValueError):
        from_chunks([TrainingChunk(21600.0, 2, {**first, "state": ["TX"]}, [])])


async def test_a_snapshot_is_rendered_once_and_read_as_rendered(
    ctx: Context, clock: ManualClock
) -> None:
    """The training reads each snapshot's rendering, stored with it when it was computed:
    a later retrain renders nothing again (a rendering of every stored row at every
    retrain was most of the read)."""
    now = clock.now()
    await _seed_world(ctx, now)
    rows = await training_rows(ctx.repos.scoring, now, _settings())
    held = await h.execute(ctx, "select cutoff_at, columns from scoring_snapshot_times")
    assert held and all(r["columns"] is not None for r in held)
    assert sum(r["columns"]["n"] for r in held) >= len(rows) > 0
    # a planted rendering is what the next read returns: it is read, not rendered again
    marked = await h.execute(
        ctx, "select cutoff_at from scoring_snapshot_times where n > 0 order by cutoff_at limit 1"
    )
    at = marked[0]["cutoff_at"]
    await h.execute(ctx, "update scoring_snapshot_times set columns = jsonb_set(columns::jsonb,"
                    " '{state}', (select jsonb_agg('ZZ'::text) from json_array_elements("
                    "columns->'state'))) where cutoff_at = %s", at)  # fmt: skip
    again = await training_rows(ctx.repos.scoring, now, _settings())
    assert {r["state"] for r in again if r["cutoff_at"] == at} == {"zz"}  # normalised
    assert _normalised([r for r in again if r["cutoff_at"] != at]) == _normalised(
        [r for r in rows if r["cutoff_at"] != at]
    )


async def test_an_erasure_forgets_the_rendering_that_held_the_person(
    ctx: Context, clock: ManualClock
) -> None:
    now = clock.now()
    await _seed_world(ctx, now)
    rows = await training_rows(ctx.repos.scoring, now, _settings())
    erased = rows[0]["lead_id"]
    touched = {r["cutoff_at"] for r in rows if r["lead_id"] == erased}
    assert await ConsoleRepository(ctx.transport).erase(erased, "test", now)
    held = await h.execute(ctx, "select cutoff_at, columns from scoring_snapshot_times")
    for r in held:  # no stored rendering names the erased lead any more
        ids = r["columns"]["lead_id"].split(",") if r["columns"] else []
        assert str(erased) not in ids
        assert (r["columns"] is None) == (r["cutoff_at"] in touched)
    # read before any retrain renders them again (rendered on the fly), then after one
    after = await from_chunks_now(ctx, now, [r["cutoff_at"] for r in held])
    assert erased not in after and len(after) == len(rows) - len(touched)
    await training_rows(ctx.repos.scoring, now, _settings())  # the retrain renders the ones read
    held = await h.execute(ctx, "select columns from scoring_snapshot_times "
                           "where cutoff_at >= (select min(created_at) from leads)")  # fmt: skip
    assert held and all(r["columns"] is not None for r in held)


async def from_chunks_now(ctx: Context, now: datetime, times: list[datetime]) -> list[int]:
    """The lead ids of the training read of `times` at `now` (horizon 1 day)."""
    data = from_chunks(await ctx.repos.scoring.training_chunks(now, sorted(times), 1))
    return [int(i) for i in data.cols["lead_id"].tolist()]
