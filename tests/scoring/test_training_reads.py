"""The training read skips the snapshots before the first lead (issue 19: a simulated month
read ~96 empty chunks of its 180-day window at every retrain) and returns the same rows."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.scoring.features import snapshot_times
from app.scoring.leads import SNAPSHOTS_PER_CALL, training_rows
from tests.conftest import make_settings
from tests.scoring.test_point_in_time import _seed_world

SETTINGS = {"scoring_horizon_days": 1, "scoring_snapshot_hours": 6.0,
            "scoring_train_window_days": 180}  # fmt: skip


def _count_reads(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    repo, reads = ctx.repos.scoring, []
    inner = repo.features

    async def counted(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        reads.append(kwargs.get("times"))
        return await inner(*args, **kwargs)

    monkeypatch.setattr(repo, "features", counted)
    return reads


async def test_no_snapshot_before_the_first_lead_is_read(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    await _seed_world(ctx, now)  # 24 leads created over the last 5 days
    s = make_settings(nightshift_env="development", **SETTINGS)
    times = snapshot_times(now, 180, 1, 6.0)
    every: list[dict[str, Any]] = []  # every snapshot of the window, newest first, as before
    for end in range(len(times), 0, -SNAPSHOTS_PER_CALL):
        chunk = times[max(0, end - SNAPSHOTS_PER_CALL) : end]
        found = await ctx.repos.scoring.features(
            now, times=chunk, at_risk=True, horizon_days=1
        )  # fmt: skip
        every.extend(r for r in found if r["label"] is not None)
    reads = _count_reads(ctx, monkeypatch)
    rows = await training_rows(ctx.repos.scoring, now, s)
    assert rows and rows == every  # the same rows, in the same order
    # 5 days of 6-hour snapshots are 3 reads of 7, not the window's 103
    assert len(times) > 700 and 1 <= len(reads) <= 3


async def test_no_lead_no_read(
    ctx: Context, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_reads(ctx, monkeypatch)
    s = make_settings(nightshift_env="development", **SETTINGS)
    assert await training_rows(ctx.repos.scoring, clock.now(), s) == []
    assert reads == []
