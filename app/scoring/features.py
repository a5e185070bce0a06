"""The lead features the model reads (computed in SQL by `scoring_features`, one pass, as of
each row's cutoff: only facts received by then) and their conversion from rows to columns.

Attributes: industry, source, state (categorical), lead age, which channels are reachable.
Behaviour: emails sent/opened/clicked, SMS sent/replied, calls answered/unanswered/voicemail,
recency of the last engagement (click, reply, answered call or open), days since the lead's
enquiry (its row was created). `snapshot_times`: the training's observation times, a fixed
grid that no outcome can move. `from_rendered`: the scoring pass's read
(`scoring_feature_columns`: the same rows rendered as columns) in `to_columns`' shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
# The numeric features rendered as reals ('nan' for null) by scoring_snapshot_columns and
# scoring_feature_columns; every other one is an integer (a count, or 0/1 reachable).
REAL_COLUMNS = frozenset({"lead_age_days", "days_since_enquiry", "days_since_engagement"})
# The context columns rendered as epoch microseconds (null: none), read back as datetimes.
TIME_COLUMNS = frozenset({"last_click_at", "last_reply_at", "last_answered_at"})
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def numbers(text: str | None, dtype: Any, n: int) -> NDArray[Any]:
    """A comma-separated column ('nan': null) parsed in C, checked to hold `n` values."""
    out = np.fromstring(text or "", dtype=dtype, sep=",")
    if len(out) != n:
        raise ValueError(f"a rendered column holds {len(out)} values, not {n}")
    return out


def _listed(values: list[Any], n: int) -> list[Any]:
    if len(values) != n:
        raise ValueError(f"a rendered column holds {len(values)} values, not {n}")
    return values


def model_columns(
    text: Callable[[str], str],
    listed: Callable[[str], list[Any]],
    n: int,
    order: NDArray[Any],
    spec: FeatureSpec = LEAD_SPEC,
) -> dict[str, NDArray[Any]]:
    """The spec's columns from a rendering: each numeric one parsed from `text(name)` (comma-
    separated, 'nan' for null), each categorical one normalised from `listed(name)`; every
    one checked to hold `n` values, then put in `order`."""
    cols: dict[str, NDArray[Any]] = {}
    for name, _ in spec.numeric:
        kind = np.float64 if name in REAL_COLUMNS else np.int64  # integers parse 10x faster
        cols[name] = numbers(text(name), kind, n).astype(np.float64)[order]
    for name in spec.categorical:
        cols[name] = normalise_category(_listed(listed(name), n))[order]
    return cols


def from_rendered(rendered: dict[str, Any], spec: FeatureSpec = LEAD_SPEC) -> dict[str, Any]:
    """`scoring_feature_columns`' value as `to_columns` makes it of the same rows, in their
    order (cutoff, lead): the same floats (numpy parses the text Postgres prints, as
    float() does), the same normalised categories, the same instants as datetimes (UTC).
    A column short of values is refused, never misaligned."""
    return from_rendered_at(rendered, spec)[0]


def from_rendered_at(
    rendered: dict[str, Any], spec: FeatureSpec = LEAD_SPEC
) -> tuple[dict[str, Any], NDArray[np.int64]]:
    """`from_rendered` and each row's cutoff (epoch microseconds, exact), in that order."""
    n = int(rendered["n"])
    ids = numbers(rendered["lead_id"], np.int64, n)
    cutoffs = numbers(rendered["cutoff_at"], np.int64, n)
    order = np.lexsort((ids, cutoffs))
    cols: dict[str, NDArray[Any]] = {"lead_id": ids[order]}
    cols |= model_columns(rendered.__getitem__, rendered.__getitem__, n, order, spec)
    for name in CONTEXT_COLUMNS:
        values = _listed(rendered[name], n)
        if name in TIME_COLUMNS:
            values = [None if v is None else UNIX_EPOCH + timedelta(microseconds=v)
                      for v in values]  # fmt: skip
        cols[name] = np.array(values, dtype=object)[order]
    return cols, cutoffs[order]


def micros(at: datetime) -> int:
    """An instant as epoch microseconds (exact: the cutoffs `from_rendered_at` gives)."""
    return (at - UNIX_EPOCH) // timedelta(microseconds=1)


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
