"""Proving a new assistant version books more: split calls between an agent's current and
candidate versions by Thompson sampling on booking rate (docs/agents.md "Version trials").

Contract:
- a version's arm is its calls and the calls that booked (`VersionStats`); the posterior is
  Beta(1 + booked, 1 + calls - booked), as the A/B tests' (app.scoring.variants);
- `choose(stats, rng)` is one Thompson draw: a sample from each version's posterior (in
  name order), the highest wins the call — the per-call form of the A/B tests' probability
  matching, so a version gets calls in proportion to its probability of being the better
  one. The one implementation: production calls (app.agents.versions) and the simulator
  (app.simulate.assistants) both draw with it;
- every draw comes from the `rng` the caller passes (a seeded generator in tests and the
  simulator). This module loads no numpy itself: the web app answers Vapi's
  assistant-request with it and never pays numpy's import unless a trial runs.
The figures per version (P(better) included) are app.agents.figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class VersionStats:
    calls: int = 0
    answered: int = 0
    booked: int = 0
    quality_sum: float = 0.0
    quality_n: int = 0

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
    best, best_sample = "", -1.0
    for name in sorted(stats):
        s = stats[name]
        sample = float(rng.beta(1 + s.booked, 1 + s.calls - s.booked))
        if sample > best_sample:
            best, best_sample = name, sample
    return best
