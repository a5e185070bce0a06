"""A small `nightshift simulate` run: the real jobs and webhooks on a virtual clock must
contact nobody at night, after STOP or over a state cap, never send twice, and be
reproducible for a seed. Both runs share one module-scoped pair (each is one fresh database
on the test server)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from app.simulate.engine import SimConfig, simulate
from app.simulate.population import make_population
from app.simulate.report import Report
from tests.conftest import make_settings

LEADS, DAYS, SEED = 80, 0.6, 11


def _run(admin_dsn: str) -> Report:
    config = SimConfig(leads=LEADS, days=DAYS, seed=SEED, admin_dsn=admin_dsn)
    return asyncio.run(simulate(config, make_settings(nightshift_env="development")))


@pytest.fixture(scope="module")
def runs(pg_admin_dsn: str) -> tuple[Report, Report]:
    return _run(pg_admin_dsn), _run(pg_admin_dsn)


def _comparable(report: Report) -> dict[str, Any]:
    data = report.as_dict()
    data.pop("run")  # wall time differs
    return data


def test_no_violations_and_no_duplicates(runs: tuple[Report, Report]) -> None:
    audit = runs[0].audit
    assert audit["violations"] == 0, audit["examples"]
    assert audit["outside_hours"] == audit["after_opt_out"] == audit["over_state_cap"] == 0
    assert audit["duplicate_keys"] == 0
    assert audit["duplicate_rows"] == 0


def test_counts_are_plausible(runs: tuple[Report, Report]) -> None:
    report = runs[0]
    # every lead gets speed-to-lead's first text; hvac leads also the recall email
    assert report.messages["sms"] >= LEADS
    assert report.messages["email"] > 0
    calls = report.calls
    assert calls["placed"] >= LEADS // 2
    assert calls["answered"] + calls["no_answer"] + calls["voicemail"] <= calls["placed"]
    # leads arrive over the run and cool off: a short run may book nobody
    assert calls["answered"] > 0 and report.bookings <= calls["answered"]
    # (a short run with leads arriving over it may see no STOP or hard bounce yet)
    assert report.opt_outs["sms_stop"] >= 0 and report.opt_outs["email_hard_bounce"] >= 0
    assert report.run["webhooks_rejected"] == 0
    assert not [k for k in report.run["job_runs"] if k.endswith(":failed")]
    scoring = report.scoring
    assert scoring["model"] in ("prior", "logistic")
    assert scoring["call_order"] == "score" and scoring["campaign_pauses"] == []
    assert "auc_on_simulated_outcomes" not in scoring  # read after the outcome: removed
    for key in ("auc_forward", "auc_per_call", "top20_capture_per_call", "holdout_auc",
                "bookings_per_call"):  # fmt: skip
        assert key in scoring
    assert scoring["training_rows_in_call"] == 0  # checked from the calls themselves
    orders = scoring["calls_by_order"]  # every placed call recorded how it was picked
    assert sum(v["calls"] for v in orders.values()) == calls["placed"]


def test_learned_hours_are_reported_per_region(runs: tuple[Report, Report]) -> None:
    best = runs[0].best_hour
    assert set(best) == {"NY", "FL", "MD", "IL", "TX", "OK", "CO", "AZ", "CA", "WA"}
    assert sum(v["attempts"] for v in best.values()) > 0
    assert all(v["learned"] is None or 0 <= v["learned"] <= 23 for v in best.values())


def test_same_seed_same_run(runs: tuple[Report, Report]) -> None:
    assert _comparable(runs[0]) == _comparable(runs[1])


def test_population_is_seeded() -> None:
    first = make_population(50, np.random.default_rng(5))
    again = make_population(50, np.random.default_rng(5))
    other = make_population(50, np.random.default_rng(6))
    assert first == again
    assert first != other
    assert len({lead.phone for lead in first}) == 50


def test_leads_arrive_over_the_run_and_cool_down() -> None:
    leads = make_population(400, np.random.default_rng(5), days=4)
    arrivals = [lead.arrives_after for lead in leads]
    assert 0 <= min(arrivals) < 0.2 and 3.8 < max(arrivals) <= 4
    lead = max(leads, key=lambda x: x.book_rate)
    assert lead.book_chance(0) == lead.book_rate
    assert lead.book_chance(3) < lead.book_chance(1) < lead.book_chance(0)
    hour = lead.region.best_hour
    assert lead.call_books(hour, 0) > lead.call_books(hour, 2) > 0
    assert lead.call_books(hour, 0) > lead.call_books((hour + 6) % 24, 0)


def test_clicks_and_replies_follow_intent() -> None:
    leads = make_population(2000, np.random.default_rng(9))
    eager = [x for x in leads if x.book_rate > 0.3]
    cold = [x for x in leads if x.book_rate < 0.05]
    assert eager and cold
    mean = lambda xs, f: sum(map(f, xs)) / len(xs)  # noqa: E731
    assert mean(eager, lambda x: x.click_chance(0)) > 3 * mean(cold, lambda x: x.click_chance(0))
    assert mean(eager, lambda x: x.reply_chance(0)) > 3 * mean(cold, lambda x: x.reply_chance(0))
