"""The figures of assistant versions: per version, calls, answered, bookings per call,
average quality and the posterior probability that it books best (docs/agents.md "Version
trials").

Contract:
- the posterior of a version's booking rate is Beta(1 + booked, 1 + calls - booked), as
  the A/B tests' (app.scoring.variants) and the Thompson split's (app.agents.trials);
- `p_better(stats, rng)`: each version's posterior probability of the highest booking rate;
  for two versions (a trial: current and candidate) the exact Beta-Binomial sum (no draw),
  for more (the simulator may model several) a Monte Carlo of `DRAWS` draws from `rng`;
- `summary(stats, rng)`: per version, calls, answered, booked, bookings per call, average
  quality and P(better) (1.0 for a version alone) — the simulator's report;
- `figures(rows)`: the same per agent and version, as `AgentRepository.version_stats` gives
  them, P(better) among the agent's live versions (None for a retired one) — what the
  console, the digest and `nightshift agents status` show; `figure_lines` is its text;
- no numpy import: the console is served by the web app, whose cold start never loads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from math import exp, lgamma
from typing import TYPE_CHECKING, Any

from app.agents.trials import VersionStats
from app.db.agents import VersionCalls

if TYPE_CHECKING:
    import numpy as np

DRAWS = 10_000


def stats_of(row: VersionCalls) -> VersionStats:
    return VersionStats(row.calls, row.answered, row.booked, row.quality_sum, row.quality_n)


def _log_beta(a: float, b: float) -> float:
    return lgamma(a) + lgamma(b) - lgamma(a + b)


def p_b_beats_a(a: VersionStats, b: VersionStats) -> float:
    """P(rate_b > rate_a) for Beta(1 + booked, 1 + calls - booked) posteriors, exactly
    (the sum over the integer first parameter of b; E. Miller, "Formulas for Bayesian A/B
    testing")."""
    a1, b1 = 1 + a.booked, 1 + a.calls - a.booked
    a2, b2 = 1 + b.booked, 1 + b.calls - b.booked
    total = 0.0
    for i in range(a2):
        total += exp(_log_beta(a1 + i, b1 + b2) - _log_beta(1 + i, b2) - _log_beta(a1, b1)) / (
            b2 + i
        )
    return min(max(total, 0.0), 1.0)


def exact_p_better(stats: Mapping[str, VersionStats]) -> dict[str, float]:
    """P(better) of at most two versions, exactly (no draw); {} for none."""
    names = sorted(stats)
    if len(names) > 2:
        raise ValueError("the exact sum compares two versions")
    if len(names) < 2:
        return dict.fromkeys(names, 1.0)
    p = p_b_beats_a(stats[names[0]], stats[names[1]])
    return {names[0]: 1.0 - p, names[1]: p}


def p_better(stats: Mapping[str, VersionStats], rng: np.random.Generator) -> dict[str, float]:
    """Each version's posterior probability of the highest booking rate."""
    names = sorted(stats)
    if len(names) <= 2:
        return exact_p_better(stats)
    a = [1 + stats[k].booked for k in names]
    b = [1 + stats[k].calls - stats[k].booked for k in names]
    best = rng.beta(a, b, size=(DRAWS, len(names))).argmax(axis=1)
    return {k: float((best == i).mean()) for i, k in enumerate(names)}


def _row(s: VersionStats, p: float | None) -> dict[str, Any]:
    return {
        "calls": s.calls,
        "answered": s.answered,
        "booked": s.booked,
        "bookings_per_call": round(s.booked / s.calls, 4) if s.calls else None,
        "avg_quality": round(s.quality_sum / s.quality_n, 2) if s.quality_n else None,
        "p_better": round(p, 4) if p is not None else None,
    }


def summary(stats: Mapping[str, VersionStats], rng: np.random.Generator) -> dict[str, Any]:
    """Per version: calls, answered, bookings per call, average quality, P(better)."""
    probs = p_better(stats, rng)
    return {name: _row(s, probs[name]) for name, s in sorted(stats.items())}


def figures(rows: Iterable[VersionCalls]) -> list[dict[str, Any]]:
    """Per agent and version (newest version first within an agent)."""
    by_agent: dict[str, list[VersionCalls]] = {}
    for row in rows:
        by_agent.setdefault(row.agent, []).append(row)
    out: list[dict[str, Any]] = []
    for agent, versions in sorted(by_agent.items()):
        live = {str(v.version): stats_of(v) for v in versions if v.role != "retired"}
        probs = exact_p_better(live)  # at most two live: current and candidate
        for v in sorted(versions, key=lambda v: -v.version):
            out.append(
                {"agent": agent, "version": v.version, "role": v.role,
                 "vapi_assistant_id": v.vapi_assistant_id,
                 **_row(stats_of(v), probs.get(str(v.version)))}
            )  # fmt: skip
    return out


def _show(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def figure_lines(table: list[dict[str, Any]]) -> list[str]:
    """`figures` as a text table (`nightshift agents status`)."""
    if not table:
        return ["no agent version has been pushed"]
    lines = [
        f"{'agent':<8} {'version':>7} {'role':<9} {'calls':>6} {'answered':>8} "
        f"{'bookings/call':>13} {'quality':>7} {'P(better)':>9}"
    ]
    for f in table:
        lines.append(
            f"{f['agent']:<8} {f['version']:>7} {f['role']:<9} {f['calls']:>6} "
            f"{f['answered']:>8} {_show(f['bookings_per_call'], '.4f'):>13} "
            f"{_show(f['avg_quality'], '.1f'):>7} {_show(f['p_better'], '.3f'):>9}"
        )
    return lines
