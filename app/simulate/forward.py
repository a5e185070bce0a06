"""The report's forward figures as array operations (app/simulate/report.py).

Contract:
- `at_risk_and_labels(leads, times_us, horizon_us)`: for ascending instants `times_us`,
  which leads of `leads` (app.db.simulate.ForwardLeads) are at risk at each t, and which
  booked in (t, t + horizon]: the same rows and labels as simulate_forward_rows (its
  label's `make_interval(days => n)` is n x 86,400 s: the sessions run in UTC), as two
  boolean matrices of shape (len(times_us), len(leads.ids));
- `in_any_span(lead, at, span_lead, span_from, span_until)`: whether each (lead, instant)
  falls in one of that lead's spans [from, until);
- `forward_pairs(risk, labels, ids, scores)`: per time, the (score, label) of its at-risk
  leads that have a score, in lead order;
- `ranked_auc(y, p)`: the ROC AUC of scores `p` (ascending) against labels `y`, exactly
  (the Mann-Whitney count, ties a half, as one integer over 2 x positives x negatives);
  None when only one class is present. sklearn's `roc_auc_score` (app.scoring.train.auc)
  integrates the same curve in floating point: equal to ~1e-13, where a month's pooled
  2.7 M rows took it ~4 s a figure.
Each interval is counted into a difference array (+1 at its first time, -1 past its
last) and summed along the times, so the cost is per lead, span and booking plus one pass
over the matrix, not per (lead, t) in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from app.db.simulate import ForwardLeads

if TYPE_CHECKING:
    from app.simulate.report import Scores


def covered(
    times_us: NDArray[np.int64], n: int, rows: NDArray[np.intp],
    start: NDArray[np.int64], end: NDArray[np.int64],
) -> NDArray[np.bool_]:  # fmt: skip
    """(len(times_us), n): True where time j lies in some interval [start, end) of row
    rows[k]. times_us ascending."""
    m = len(times_us)
    lo = np.searchsorted(times_us, start, side="left")  # first time >= start
    hi = np.searchsorted(times_us, end, side="left")  # first time >= end (excluded)
    keep = lo < hi
    count = np.zeros((m + 1, n), dtype=np.int32)
    np.add.at(count, (lo[keep], rows[keep]), 1)
    np.add.at(count, (hi[keep], rows[keep]), -1)
    np.cumsum(count, axis=0, out=count)
    return count[:m] > 0


def at_risk_and_labels(
    leads: ForwardLeads, times_us: NDArray[np.int64], horizon_us: int
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(risk, labels), see the module contract. Label at t: a booking b with
    t < b <= t + horizon, i.e. t in [b - horizon, b)."""
    n = len(leads.ids)
    own = np.arange(n, dtype=np.intp)
    reachable = covered(times_us, n, own, leads.from_us, leads.until_us)
    in_flight = covered(times_us, n, leads.span_lead, leads.span_from, leads.span_until)
    labels = covered(
        times_us, n, leads.booking_lead, leads.booking_us - horizon_us, leads.booking_us
    )
    return reachable & ~in_flight, labels


def in_any_span(
    lead: NDArray[np.int64], at: NDArray[np.int64], span_lead: NDArray[np.int64],
    span_from: NDArray[np.int64], span_until: NDArray[np.int64],
) -> NDArray[np.bool_]:  # fmt: skip
    """Whether each (lead[i], at[i]) has a span of the same lead with from <= at < until.
    One sort of the spans' opening and closing events with the queries: at an equal
    instant the events come first (a span opened at t holds t; one closed at t does not)."""
    keys = np.concatenate([span_lead, span_lead, lead])
    when = np.concatenate([span_from, span_until, at])
    kind = np.concatenate([np.zeros(2 * len(span_lead), np.int8), np.ones(len(lead), np.int8)])
    step = np.concatenate([
        np.where(span_from < span_until, 1, 0), np.where(span_from < span_until, -1, 0),
        np.zeros(len(lead), np.int64),
    ])  # fmt: skip
    order = np.lexsort((kind, when, keys))  # a lead's spans close before the next lead's
    open_now = np.cumsum(step[order])
    out = np.empty(len(lead), dtype=np.bool_)
    queries = order >= 2 * len(span_lead)
    out[order[queries] - 2 * len(span_lead)] = open_now[queries] > 0
    return out


def forward_pairs(
    risk: NDArray[np.bool_], labels: NDArray[np.bool_], ids: NDArray[np.int64],
    scores: list[Scores],
) -> list[tuple[NDArray[np.float64], NDArray[np.bool_]]]:  # fmt: skip
    """For each time j (a row of `risk`), the scores at that time (`scores[j]`) of its
    at-risk leads that have one, and their labels, in lead order."""
    out = []
    for j, held in enumerate(scores):
        rows = np.flatnonzero(risk[j])
        want = ids[rows]
        if len(held.ids) == 0:
            pos, found = np.zeros(0, np.intp), np.zeros(len(want), np.bool_)
        else:
            pos = np.searchsorted(held.ids, want)
            found = held.ids[np.minimum(pos, len(held.ids) - 1)] == want
            pos = pos[found]
        out.append((held.values[pos], labels[j, rows[found]]))
    return out


def ranked_auc(y: NDArray[np.bool_], p: NDArray[np.float64]) -> float | None:
    """See the module contract; `p` ascending, `y` in the same order."""
    positives = int(np.count_nonzero(y))
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    starts = np.flatnonzero(np.concatenate([[True], p[1:] != p[:-1]]))  # each tied group
    group_pos = np.add.reduceat(y.astype(np.int64), starts)
    group_neg = np.diff(np.append(starts, len(y))) - group_pos
    below = np.cumsum(group_neg) - group_neg  # negatives scored lower than the group
    twice = int((group_pos * (2 * below + group_neg)).sum())
    return twice / (2 * positives * negatives)
