"""The lead features the model reads (computed in SQL by `scoring_features`, one pass) and
their conversion from rows to columns.

Attributes: industry, source, state (categorical), lead age, which channels are reachable.
Behaviour: emails sent/opened/clicked, SMS sent/replied, calls answered/unanswered/voicemail,
recency of the last engagement (click, reply, answered call or open).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.scoring.model import FeatureSpec, normalise_category

LEAD_SPEC = FeatureSpec(
    numeric=(
        ("lead_age_days", "log1p"),
        ("email_ok", "identity"),
        ("sms_ok", "identity"),
        ("call_ok", "identity"),
        ("emails_sent", "log1p"),
        ("emails_opened", "log1p"),
        ("clicks", "log1p"),
        ("sms_sent", "log1p"),
        ("sms_replies", "log1p"),
        ("calls_answered", "log1p"),
        ("calls_unanswered", "log1p"),
        ("calls_voicemail", "log1p"),
        ("days_since_engagement", "recency"),
    ),
    categorical=("industry", "source", "state"),
)

# Context the reasons quote (not model inputs).
CONTEXT_COLUMNS = ("last_click_at", "last_click_campaign", "last_reply_at", "last_answered_at")


def to_columns(rows: Sequence[dict[str, Any]], spec: FeatureSpec = LEAD_SPEC) -> dict[str, Any]:
    """Rows of `scoring_features` as columns: numeric float arrays (None -> NaN),
    categorical normalised strings, context columns as object arrays, plus `lead_id`."""
    cols: dict[str, NDArray[Any]] = {
        "lead_id": np.fromiter((r["lead_id"] for r in rows), dtype=np.int64, count=len(rows))
    }
    for name, _ in spec.numeric:
        cols[name] = np.array(
            [np.nan if r[name] is None else r[name] for r in rows], dtype=np.float64
        )
    for name in spec.categorical:
        cols[name] = normalise_category(r[name] for r in rows)
    for name in CONTEXT_COLUMNS:
        cols[name] = np.array([r.get(name) for r in rows], dtype=object)
    return cols


def labels(rows: Sequence[dict[str, Any]]) -> NDArray[np.int64]:
    return np.array([1 if r["label"] else 0 for r in rows], dtype=np.int64)
