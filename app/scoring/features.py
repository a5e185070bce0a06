"""The lead features the model reads (computed in SQL by `scoring_features`, one pass, as of
each row's cutoff: only facts received by then) and their conversion from rows to columns.

Attributes: industry, source, state (categorical), lead age, which channels are reachable.
Behaviour: emails sent/opened/clicked, SMS sent/replied, calls answered/unanswered/voicemail,
recency of the last engagement (click, reply, answered call or open), days since the lead's
enquiry (its row was created). `snapshot_times`: the training's observation times, a fixed
grid that no outcome can move.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
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
        ("days_since_enquiry", "log1p"),
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


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def snapshot_times(
    now: datetime, window_days: float, horizon_days: float, every_hours: float
) -> list[datetime]:
    """The training's observation times: a grid `every_hours` apart (aligned to a fixed
    epoch, so it never depends on when a run happens or on any outcome) inside the window,
    up to `now - horizon` (a later row's label is not settled yet). Oldest first."""
    step = timedelta(hours=every_hours)
    last = now - timedelta(days=horizon_days)
    first = now - timedelta(days=window_days)
    k = -(-(first - EPOCH) // step)  # the first grid point at or after `first`
    out, t = [], EPOCH + k * step
    while t <= last:
        out.append(t)
        t += step
    return out
