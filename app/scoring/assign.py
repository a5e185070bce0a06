"""The drip's A/B variant choice, given what the growth loop published in
`campaign_steps.template.ab` ({winner, weights}; see app.scoring.variants). Pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def pick_variant(
    variants: Sequence[dict[str, Any]], ab: Mapping[str, Any] | None, digest: bytes
) -> dict[str, Any]:
    """The promoted winner when there is one; else a draw weighted by each variant's
    probability of being best (Thompson sampling in batch form), made stable per lead and
    step by `digest` (a hash of both). A variant the weights do not know yet (just added)
    gets an equal share, so it is explored; without weights: variant digest[0] mod n."""
    ab = ab or {}
    by_name = {v.get("name"): v for v in variants}
    if ab.get("winner") in by_name:
        return by_name[ab["winner"]]
    known = ab.get("weights") or {}
    share = 1.0 / len(variants)
    weights = [float(known.get(v.get("name"), share)) for v in variants]
    total = sum(weights)
    if not known or total <= 0:  # no data yet: the original stable split
        return variants[digest[0] % len(variants)]
    u = int.from_bytes(digest[:8], "big") / 2**64 * total
    for variant, weight in zip(variants, weights, strict=True):
        u -= weight
        if u < 0:
            return variant
    return variants[-1]
