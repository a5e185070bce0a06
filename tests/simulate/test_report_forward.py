"""The report's forward AUC and training check computed per lead with arrays (issue 19:
simulate_forward_leads + app.simulate.forward) give exactly what the per-row computation
gave: the same (lead, t, label) rows as simulate_forward_rows at every tick of a real run
(calls in flight, bookings, open windows), the same figures to the last digit, and the
same in-call verdicts as a per-row any() on spans with their edge cases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from app.db.simulate import NEVER, SimulateRepository
from app.scoring.features import micros
from app.scoring.leads import training_rows
from app.scoring.train import auc
from app.simulate import engine
from app.simulate.engine import SimConfig, simulate
from app.simulate.forward import at_risk_and_labels, in_any_span, ranked_auc
from app.simulate.report import ScoreLog, build_report, forward_auc, training_check
from tests.conftest import make_settings

LEADS, DAYS, SEED = 120, 1.5, 5
DAY_US = 86_400_000_000


async def per_row_forward_auc(ctx: Any, log: ScoreLog) -> dict[str, Any]:
    """The report's forward AUC as it was computed before: one tuple per (lead, t) row."""
    now = ctx.clock.now()
    times = [t for t in log.at if t + timedelta(days=1) <= now]
    rows = await SimulateRepository(ctx.transport).forward_rows(now, times, 1)
    kept = [(log.at[t].get(lead), bool(label), t) for lead, t, label in rows if label is not None]
    kept = [k for k in kept if k[0] is not None]

    def pooled(part: list[Any]) -> float | None:
        y = np.array([b for _, b, _ in part], dtype=np.int64)
        value = auc(y, np.array([s for s, _, _ in part], dtype=np.float64))
        return round(value, 4) if value is not None else None

    trained = [k for k in kept if k[2] in log.trained]
    days: dict[int, list[Any]] = {}
    for k in kept:
        days.setdefault(int((k[2] - min(times)).total_seconds() // 86400), []).append(k)
    return {"auc_forward": pooled(kept), "auc_forward_rows": len(kept),
            "auc_forward_trained": pooled(trained) if trained else None,
            "auc_forward_by_day": [pooled(days[d]) for d in sorted(days)]}  # fmt: skip


def test_per_lead_forward_read_gives_the_per_row_rows_and_figures(
    pg_admin_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    async def compare(ctx: Any, world: Any, *args: Any, **kwargs: Any) -> Any:
        now, log = ctx.clock.now(), args[4]
        times = [engine.START + n * engine.TICK for n in range(int(DAYS * 288))]
        repo = SimulateRepository(ctx.transport)
        seen["rows"] = await repo.forward_rows(now, times, 1, per_call=100)
        leads = await repo.forward_leads()
        risk, labels = at_risk_and_labels(
            leads, np.array([micros(t) for t in times], dtype=np.int64), DAY_US
        )
        seen["arrays"] = [
            (int(leads.ids[i]), t, bool(labels[j, i]) if t + timedelta(days=1) <= now else None)
            for j, t in enumerate(times) for i in np.flatnonzero(risk[j])
        ]  # fmt: skip
        seen["figures"] = await forward_auc(ctx, log), await per_row_forward_auc(ctx, log)
        rows = await training_rows(ctx.repos.scoring, now, ctx.settings)
        seen["training"] = await training_check(ctx), len(rows)
        # the in-call check on the run's own calls, each lead with a call at every tick
        spans = await repo.call_spans()
        asked = [(k.lead_id, t) for k in spans for t in times]
        seen["in_call"] = in_any_span(
            np.array([lead for lead, _ in asked], dtype=np.int64),
            np.array([micros(t) for _, t in asked], dtype=np.int64),
            np.array([k.lead_id for k in spans], dtype=np.int64),
            np.array([micros(k.placed_at) for k in spans], dtype=np.int64),
            np.array([NEVER if k.report_received_at is None else micros(k.report_received_at)
                      for k in spans], dtype=np.int64),
        ).tolist(), [
            any(k.lead_id == lead and k.placed_at <= t
                and (k.report_received_at is None or k.report_received_at > t) for k in spans)
            for lead, t in asked
        ]  # fmt: skip
        seen["log"] = log
        return await build_report(ctx, world, *args, **kwargs)

    monkeypatch.setattr(engine, "build_report", compare)
    config = SimConfig(leads=LEADS, days=DAYS, seed=SEED, admin_dsn=pg_admin_dsn)
    asyncio.run(simulate(config, make_settings(nightshift_env="development")))
    assert seen["arrays"] == seen["rows"]
    assert {label for _, _, label in seen["rows"]} == {True, False, None}
    new, old = seen["figures"]
    assert new == old
    assert new["auc_forward"] is not None and new["auc_forward_rows"] > 50
    assert len(new["auc_forward_by_day"]) == 1 and seen["log"].at
    check, rows = seen["training"]
    assert check == {"training_rows": rows, "training_rows_in_call": 0}
    in_call, expect = seen["in_call"]
    assert in_call == expect and any(expect) and not all(expect)


def _us(minutes: int) -> int:
    return micros(datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=minutes))


def test_in_any_span_is_the_per_row_check_at_the_edges() -> None:
    # (lead, placed, report received or None): a call still in progress, one reported
    # before it was placed (never in progress), one closed at the instant asked, and a lead
    # with no calls
    spans = [(1, 10, 20), (1, 30, None), (2, 15, 15), (2, 40, 35), (3, 5, 50), (3, 45, 60)]
    asked = [(lead, m) for lead in (1, 2, 3, 4) for m in (0, 5, 10, 15, 19, 20, 29, 30, 99)]
    expect = [
        any(who == lead and p <= m and (got is None or got > m) for who, p, got in spans)
        for lead, m in asked
    ]  # fmt: skip
    got = in_any_span(
        np.array([lead for lead, _ in asked], dtype=np.int64),
        np.array([_us(m) for _, m in asked], dtype=np.int64),
        np.array([who for who, _, _ in spans], dtype=np.int64),
        np.array([_us(p) for _, p, _ in spans], dtype=np.int64),
        np.array([NEVER if g is None else _us(g) for _, _, g in spans], dtype=np.int64),
    )  # fmt: skip
    assert got.tolist() == expect
    assert sum(expect) > 5 and not all(expect)


def test_ranked_auc_is_sklearns_auc_with_ties_and_one_class() -> None:
    rng = np.random.default_rng(3)
    for n, levels in ((50, 5), (2_000, 40), (2_000, 1_000_000)):
        p = np.round(rng.random(n) * levels) / levels  # ties when few levels
        y = rng.random(n) < 0.2 + 0.6 * p
        order = np.argsort(p)
        assert ranked_auc(y[order], p[order]) == pytest.approx(
            auc(y.astype(np.int64), p), abs=1e-12
        )
    one_class = np.array([True, True, True])
    assert ranked_auc(one_class, np.array([0.1, 0.2, 0.3])) is None
    assert ranked_auc(~one_class, np.array([0.1, 0.2, 0.3])) is None
    # a score tied across the classes counts a half: one of two pairs ordered, one tied
    assert ranked_auc(np.array([False, False, True]), np.array([0.1, 0.5, 0.5])) == 0.75
