"""The simulator's forward-AUC read (simulate_forward_rows: at-risk rows and labels without
the features, issue 19) returns exactly what scoring_features returns for the same times, on
the database of a real simulation run (calls in flight, bookings, opt-outs); and the
compact ScoreLog answers as the dict it replaced."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from app.db.simulate import SimulateRepository
from app.simulate import engine
from app.simulate.engine import SimConfig, simulate
from app.simulate.report import ScoreLog, build_report
from tests.conftest import make_settings

LEADS, DAYS, SEED = 120, 1.5, 5


def test_forward_rows_are_scoring_features_rows(
    pg_admin_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    async def compare(ctx: Any, world: Any, *args: Any, **kwargs: Any) -> Any:
        now = ctx.clock.now()
        # every 5-minute tick of the run (windows closed or not; calls in flight at some)
        times = [engine.START + n * engine.TICK for n in range(int(DAYS * 288))]
        light = await SimulateRepository(ctx.transport).forward_rows(now, times, 1, per_call=5)
        full = await ctx.repos.scoring.features(now, times=times, at_risk=True, horizon_days=1)
        every = await ctx.repos.scoring.features(now, times=times, horizon_days=1)
        seen.update(light=light, full=[(r["lead_id"], r["cutoff_at"], r["label"]) for r in full],
                    every=every, calls=world.outcomes)  # fmt: skip
        return await build_report(ctx, world, *args, **kwargs)

    monkeypatch.setattr(engine, "build_report", compare)
    config = SimConfig(leads=LEADS, days=DAYS, seed=SEED, admin_dsn=pg_admin_dsn)
    asyncio.run(simulate(config, make_settings(nightshift_env="development")))
    assert seen["light"] == seen["full"]
    labels = {label for _, _, label in seen["light"]}
    assert labels == {True, False, None}  # booked next day, not booked, window still open
    # the at-risk filter was exercised: booked, in-flight and never-contacted rows left out
    every = seen["every"]
    assert any(r["booked"] for r in every) and any(r["call_in_flight"] for r in every)
    assert any(r["first_contact_at"] is None for r in every)
    assert len(seen["light"]) < len(every)


def test_score_log_answers_as_a_dict() -> None:
    at = datetime(2026, 11, 30, 6, 10, tzinfo=UTC)
    scores = {3: 12.5, 7: 0.0, 11: 41.20000076293945}
    log = ScoreLog()
    ids = np.array(sorted(scores), dtype=np.int64)
    log.keep(at, (ids, np.array([scores[i] for i in ids], dtype=np.float64)), trained=True)
    for lead in range(15):
        assert log.at[at].get(lead) == scores.get(lead)
    assert at in log.trained and at + timedelta(hours=1) not in log.at
    empty = ScoreLog()
    empty.keep(at, (np.array([], dtype=np.int64), np.array([], dtype=np.float64)))
    assert empty.at[at].get(3) is None
