"""Proving a version books more (issue 18 item 5): calls split between two assistant versions
by Thompson sampling on booking rate — the better one wins the traffic."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from app.agents.figures import p_better, summary
from app.agents.trials import VersionStats, choose
from app.simulate.assistants import parse_assistants
from app.simulate.engine import SimConfig, simulate
from tests.conftest import make_settings


def test_a_version_that_books_more_gets_most_draws() -> None:
    rng = np.random.default_rng(7)
    stats = {"current": VersionStats(200, 120, 10), "candidate": VersionStats(200, 118, 24)}
    picks = [choose(stats, rng) for _ in range(1000)]
    assert picks.count("candidate") > 950
    probs = p_better(stats, np.random.default_rng(1))
    assert probs["candidate"] > 0.99 and abs(sum(probs.values()) - 1) < 1e-9


def test_with_no_calls_yet_the_versions_share_the_traffic() -> None:
    rng = np.random.default_rng(3)
    stats = {"current": VersionStats(), "candidate": VersionStats()}
    share = [choose(stats, rng) for _ in range(2000)].count("candidate") / 2000
    assert 0.45 < share < 0.55


def test_the_summary_has_every_figure_per_version() -> None:
    stats = {"v3": VersionStats(10, 6, 2).add(True, True, 8.0), "v4": VersionStats(4, 2, 0)}
    rows = summary(stats, np.random.default_rng(0))
    assert rows["v3"] == {"calls": 11, "answered": 7, "booked": 3, "bookings_per_call": 0.2727,
                          "avg_quality": 8.0, "p_better": rows["v3"]["p_better"]}  # fmt: skip
    assert rows["v3"]["p_better"] > rows["v4"]["p_better"]


def test_the_simulator_option_is_checked() -> None:
    assert parse_assistants("current=1.0, candidate=1.5") == {"current": 1.0, "candidate": 1.5}
    assert parse_assistants("") == {}  # the option's default: no trial, the run still starts
    for bad in ("current=1.0", "current", "a=0,b=1"):
        with pytest.raises(ValueError):
            parse_assistants(bad)


def test_the_simulated_better_assistant_wins_most_calls_by_the_end(pg_admin_dsn: str) -> None:
    config = SimConfig(leads=150, days=2, seed=5, admin_dsn=pg_admin_dsn,
                       assistants=(("current", 1.0), ("candidate", 2.5)))  # fmt: skip
    report = asyncio.run(simulate(config, make_settings(nightshift_env="development")))
    agents = report.as_dict()["agents"]
    assert set(agents) == {"current", "candidate"}
    better, worse = agents["candidate"], agents["current"]
    assert better["calls"] + worse["calls"] == report.calls["placed"]
    assert better["last_quarter_share"] > 0.7
    assert better["calls"] > worse["calls"]
    assert better["p_better"] > worse["p_better"]
