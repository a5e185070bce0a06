"""Proving a new assistant version books more: split calls between an agent's current and
candidate versions by Thompson sampling on booking rate (docs/agents.md "Version trials").

Contract:
- a version's arm is its calls placed and the calls that booked (`VersionStats`); the
  posterior is Beta(1 + booked, 1 + calls - booked), as the A/B tests' (app.scoring.variants);
- `choose(stats, rng)` is one Thompson draw: a sample from each version's posterior, the
  highest wins the call — the per-call form of the A/B tests' probability matching, so a
  version gets calls in proportion to its probability of being the better one;
- `p_better(stats, rng)`: each version's posterior probability of the highest booking rate
  (`app.scoring.variants.p_best`, the same Monte Carlo);
- `summary(stats, rng)`: per version, calls, answered, bookings per call, average quality
  and P(better) — the figures the simulator reports;
- every draw comes from the `rng` the caller passes (a seeded generator in tests and the
  simulator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.scoring.variants import Arm, p_best


@dataclass(frozen=True)
class VersionStats:
    calls: int = 0
    answered: int = 0
    booked: int = 0
    quality_sum: float = 0.0
    quality_n: int = 0

    def arm(self) -> Arm:
        return Arm(self.calls, self.booked)

    def add(self, answered: bool, booked: bool, quality: float | None) -> VersionStats:
        return VersionStats(
            self.calls + 1,
            self.answered + answered,
            self.booked + booked,
            self.quality_sum + (quality or 0.0),
            self.quality_n + (quality is not None),
        )


def choose(stats: Mapping[str, VersionStats], rng: np.random.Generator) -> str:
    """The version that places the next call (one Thompson draw; ties: the first name)."""
    names = sorted(stats)
    a = np.array([1 + stats[k].booked for k in names], dtype=np.float64)
    b = np.array([1 + stats[k].calls - stats[k].booked for k in names], dtype=np.float64)
    return names[int(np.argmax(rng.beta(a, b)))]


def p_better(stats: Mapping[str, VersionStats], rng: np.random.Generator) -> dict[str, float]:
    return p_best({k: s.arm() for k, s in stats.items()}, rng)


def summary(stats: Mapping[str, VersionStats], rng: np.random.Generator) -> dict[str, Any]:
    """Per version: calls, answered, bookings per call, average quality, P(better)."""
    probs = p_better(stats, rng) if len(stats) > 1 else dict.fromkeys(stats, 1.0)
    return {
        name: {
            "calls": s.calls,
            "answered": s.answered,
            "booked": s.booked,
            "bookings_per_call": round(s.booked / s.calls, 4) if s.calls else None,
            "avg_quality": round(s.quality_sum / s.quality_n, 2) if s.quality_n else None,
            "p_better": round(probs[name], 4),
        }
        for name, s in sorted(stats.items())
    }
