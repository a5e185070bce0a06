"""The lead model's training set, read from the snapshot feature store as columns.

Contract:
- the rows: every lead at risk at each snapshot time t of the window (`snapshot_times`, from
  the first lead on), its features as of t, labelled booked in (t, t + horizon] — the newest
  snapshots first, in whole chunks of SNAPSHOTS_PER_CALL snapshots, stopping once
  SCORING_MAX_TRAINING_ROWS rows are held (the same rows `scoring_features` gives at those
  times, as long as nothing about them changed after they were stored);
- a snapshot's features are computed once, by the first retrain after its label window
  closed (`scoring_snapshots_fill`), and rendered then as the read brings them; every later
  retrain reads the rendering (one value per snapshot, not its rows); the label is read
  when used (the leads booked within the horizon after each cutoff); snapshots older than
  the window are deleted (supabase/schemas/06_scoring.sql, docs/scoring.md "The snapshot
  store");
- `TrainingSet` holds columns (`to_columns`' shape, without the reasons' context columns),
  the labels and each row's cutoff as epoch seconds, rows in (cutoff, lead) order; the read
  brings numeric columns as comma-separated text that numpy parses without a Python object
  per value (a dict per row, then an array per column, were most of a retrain's read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.core.settings import Settings
from app.db.scoring import ScoringRepository, TrainingChunk
from app.scoring.features import LEAD_SPEC, model_columns, numbers, snapshot_times

SNAPSHOTS_PER_CALL = 7  # snapshot times per chunk (a week of daily snapshots)


@dataclass(frozen=True)
class TrainingSet:
    cols: dict[str, NDArray[Any]]
    y: NDArray[np.int64]
    times: NDArray[np.float64]  # each row's cutoff, epoch seconds

    def __len__(self) -> int:
        return len(self.y)

    def cutoffs(self) -> list[datetime]:
        return [datetime.fromtimestamp(t, UTC) for t in self.times.tolist()]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per row (lead_id, cutoff_at, label and the model's features): for
        checks and reports, not for training."""
        names = [n for n, _ in LEAD_SPEC.numeric] + list(LEAD_SPEC.categorical)
        lists = {n: self.cols[n].tolist() for n in ["lead_id", *names]}
        labels, cutoffs = self.y.tolist(), self.cutoffs()
        return [
            {"lead_id": lists["lead_id"][i], "cutoff_at": cutoffs[i], "label": bool(labels[i]),
             **{n: lists[n][i] for n in names}}
            for i in range(len(labels))
        ]  # fmt: skip


def from_chunks(chunks: list[TrainingChunk]) -> TrainingSet:
    """`scoring_training_chunks`' snapshots as one TrainingSet (numeric null -> NaN): a
    row's label is whether its lead is among its snapshot's booked leads; rows sorted by
    (cutoff, lead), every column moved with its row (a chunk's columns share one unsorted
    order). A column short of values is refused, never misaligned."""
    held = [c for c in chunks if c.n > 0]
    n = sum(c.n for c in held)
    counts = [c.n for c in held]

    def joined(name: str) -> str:
        return ",".join(c.columns[name] for c in held)

    ids = numbers(joined("lead_id"), np.int64, n)
    times = np.repeat(np.array([c.cutoff_epoch for c in held], dtype=np.float64), counts)
    bounds = np.cumsum([0, *counts])
    y = np.zeros(n, dtype=np.int64)
    for c, start, end in zip(held, bounds[:-1], bounds[1:], strict=True):
        if c.booked:
            y[start:end] = np.isin(ids[start:end], np.array(c.booked, dtype=np.int64))
    order = np.lexsort((ids, times))  # (cutoff, lead) is unique: one order only
    cols: dict[str, NDArray[Any]] = {"lead_id": ids[order]}
    cols |= model_columns(joined, lambda name: [v for c in held for v in c.columns[name]],
                          n, order)  # fmt: skip
    return TrainingSet(cols, y[order], times[order])


async def chosen_snapshots(repo: ScoringRepository, now: datetime, s: Settings) -> list[datetime]:
    """The snapshot times the training reads (see the module contract), computing the ones
    the store does not hold yet, chunk by chunk, newest first."""
    times = snapshot_times(
        now, s.scoring_train_window_days, s.scoring_horizon_days, s.scoring_snapshot_hours
    )
    # A snapshot before the first lead has no rows (only leads created by t are read): not
    # read. A young deployment's window is mostly such snapshots.
    first = await repo.first_lead_at()
    times = [t for t in times if first is not None and t >= first]
    if not times:
        return []
    held = await repo.snapshots_held(times, now - timedelta(days=s.scoring_train_window_days))
    chosen: list[datetime] = []
    count = 0
    for end in range(len(times), 0, -SNAPSHOTS_PER_CALL):
        chunk = times[max(0, end - SNAPSHOTS_PER_CALL) : end]
        missing = [t for t in chunk if t not in held]
        if missing:
            held.update(await repo.fill_snapshots(now, missing))
        count += sum(held.get(t, 0) for t in chunk)
        chosen = chunk + chosen
        if count >= s.scoring_max_training_rows:
            break
    return chosen


async def training_set(repo: ScoringRepository, now: datetime, s: Settings) -> TrainingSet:
    """The lead model's training set at `now` (see the module contract)."""
    chosen = await chosen_snapshots(repo, now, s)
    return from_chunks(await repo.training_chunks(now, chosen, s.scoring_horizon_days))
