"""Lead scoring inside the `growth` job: keep a model current, score every lead, write back.

- `current_model`: reuse the latest stored model (trained or prior) while it is younger than
  SCORING_RETRAIN_HOURS; otherwise read the training set (every lead at risk at each snapshot
  time t, features as of t, label booked in (t, t + horizon]; from the snapshot feature store,
  which computes only the snapshots new since the last retrain: app.scoring.training_set)
  as columns, and train when it holds at least SCORING_MIN_OUTCOMES
  rows with SCORING_MIN_BOOKINGS positives, else fall back to the documented prior. The
  per-call model (features as of each call's placed_at, label: this call booked; it orders
  the call queue, app.scoring.call_order) is trained beside it and stored in the same row
  (`model.per_call`: its reads and fits run while the lead model is fitted in a worker
  thread); its rows come from the per-call store, which computes only the
  calls reported since the last retrain (`scoring_call_columns`); a retrain whose per-call
  rows, labels and C are exactly the latest stored model's stores that per-call model again
  (the same model to the bit, not fitted again: app.scoring.fit_memo). Every new model is
  stored as JSON in `score_models` (version, features, coefficients, metrics, trained_at).
- `score_all`: one SQL call for the feature matrix (rendered as columns that numpy parses:
  `scoring_feature_columns`), one vectorised pass for probabilities and reason selection,
  then the scores and top-3 reasons written back in batches (one call per WRITE_BATCH
  leads); newly hot leads are logged for the operator. Every lead when the
  model is new; otherwise the leads marked since the last run (a trigger marks a lead
  when something its features read changes: supabase/schemas/06_scoring.sql) and the leads
  whose enquiry is younger than the horizon (their enquiry age moves fastest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import structlog
from numpy.typing import NDArray

from app.core.clock import Clock
from app.core.settings import Settings
from app.db.repositories import LogRepository
from app.db.scoring import CallOutcome, ScoringRepository, StoredModel
from app.scoring.features import LEAD_SPEC, from_rendered, model_columns, numbers
from app.scoring.fit_memo import inputs_digest, remembered, stored_json
from app.scoring.model import ScoreModel
from app.scoring.prior import prior_model
from app.scoring.reasons import reason_texts
from app.scoring.train import encode, evaluate_holdout, fit_encoded, one_blas_thread
from app.scoring.training_set import TrainingSet, training_set

log = structlog.get_logger(__name__)
WRITE_BATCH = 20_000  # leads per scoring_apply call: one round trip per batch


def spec_json() -> dict[str, Any]:
    return {"numeric": [list(n) for n in LEAD_SPEC.numeric],
            "categorical": list(LEAD_SPEC.categorical)}  # fmt: skip


def enough_outcomes(n: int, bookings: int, min_outcomes: int, min_bookings: int) -> bool:
    """The training threshold: at least min_outcomes known outcomes and min_bookings bookings
    (and at least one non-booking, or there is nothing to learn)."""
    return n >= min_outcomes and bookings >= min_bookings and bookings < n


def train_model(data: TrainingSet, c: float, horizon_days: float) -> ScoreModel:
    """Fit on the training set (rows in cutoff order); the holdout is split by observation
    time with a gap of the horizon (see evaluate_holdout)."""
    enc = encode(LEAD_SPEC, data.cols)  # one encoding for the holdout fit and the final fit
    metrics = evaluate_holdout(
        LEAD_SPEC, data.cols, data.y, c=c, times=data.times, gap=horizon_days * 86400.0, enc=enc
    )
    model = fit_encoded(enc, None, data.y, c=c)
    model.metrics = {**metrics, "outcomes": len(data), "bookings": int(data.y.sum())}
    return model


async def training_rows(
    repo: ScoringRepository, now: datetime, s: Settings
) -> list[dict[str, Any]]:
    """The lead model's training rows as dicts (lead_id, cutoff_at, label, features): the
    training set of `training_set` (app.scoring.training_set), for checks and reports."""
    return (await training_set(repo, now, s)).rows()


def call_columns(
    rendered: dict[str, Any], calls: list[CallOutcome]
) -> tuple[dict[str, NDArray[Any]], NDArray[np.int64]]:
    """The per-call rows of `calls` (in their order) from `scoring_call_columns`' rendering
    (rows keyed by call_id, in any order): each call's features and its label (booked); a
    call the rendering does not hold is left out."""
    n = int(rendered["n"])
    ids = numbers(rendered["call_id"], np.int64, n)
    row_of = {call_id: i for i, call_id in enumerate(ids.tolist())}
    pairs = [(row_of[k.call_id], k.booked) for k in calls if k.call_id in row_of]
    rows = np.array([i for i, _ in pairs], dtype=np.intp)
    cols: dict[str, NDArray[Any]] = {"lead_id": numbers(rendered["lead_id"], np.int64, n)[rows]}
    cols |= model_columns(rendered.__getitem__, rendered.__getitem__, n, rows)
    return cols, np.array([1 if b else 0 for _, b in pairs], dtype=np.int64)


async def per_call_model(
    repo: ScoringRepository, now: datetime, s: Settings, last: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The per-call model's stored JSON (features as of each call's placed_at, label: this
    call booked), or None below the training threshold. Its holdout: the newest 20 % of
    calls. `last`: the per-call JSON of the latest stored model, reused when its rows,
    labels and C were exactly these (a retrain with no newly reported call:
    app.scoring.fit_memo); the reads are made either way."""
    since = now - timedelta(days=s.scoring_train_window_days)
    calls = await repo.call_outcomes(since, now)
    booked = sum(1 for k in calls if k.booked)
    if not enough_outcomes(len(calls), booked, s.scoring_min_outcomes, s.scoring_min_bookings):
        return None
    cols, y = call_columns(await repo.call_feature_columns(since, now), calls)
    c = s.scoring_regularization_c
    key = inputs_digest(cols, y, c=c, kind="per_call")
    model = remembered(last, key)
    if model is None:
        enc = encode(LEAD_SPEC, cols)
        metrics = evaluate_holdout(LEAD_SPEC, cols, y, c=c, enc=enc)
        model = fit_encoded(enc, None, y, c=c, kind="per_call")
        model.metrics = {**metrics, "calls": len(y), "bookings": int(y.sum())}
    return stored_json(model, key)


async def current_model(repo: ScoringRepository, now: datetime, s: Settings) -> StoredModel:
    """The model to score with at `now` (see the module docstring); the SCORING_* settings
    decide when it is retrained and how."""
    latest = await repo.latest_model(now)
    fresh = latest is not None and now - latest.trained_at < timedelta(
        hours=s.scoring_retrain_hours
    )
    if latest is not None and fresh:  # a prior too: its training data is re-read when stale
        return latest
    data = await training_set(repo, now, s)
    bookings = int(data.y.sum())
    last = latest.model.get("per_call") if latest is not None else None
    if enough_outcomes(len(data), bookings, s.scoring_min_outcomes, s.scoring_min_bookings):
        model, per_call = await _fit_beside(data, s, per_call_model(repo, now, s, last))
        log.info("scoring model trained", outcomes=len(data), bookings=bookings,
                 holdout_auc=model.metrics.get("holdout_auc"))  # fmt: skip
    else:  # a new prior row each time: it carries the counts still needed to train
        model = prior_model()
        model.metrics = {**model.metrics, "outcomes": len(data), "bookings": bookings,
                         "needs": {"outcomes": s.scoring_min_outcomes,
                                   "bookings": s.scoring_min_bookings}}  # fmt: skip
        per_call = await per_call_model(repo, now, s, last)
    payload = model.to_json()
    if per_call is not None:  # stored with the lead model: one row, one version
        payload["per_call"] = per_call
        model.metrics = {**model.metrics, "per_call": per_call["metrics"]}
        payload["metrics"] = model.metrics
    return await repo.save_model(model.kind, spec_json(), payload, model.metrics, now)


async def _fit_beside(
    data: TrainingSet, s: Settings, per_call: Awaitable[dict[str, Any] | None]
) -> tuple[ScoreModel, dict[str, Any] | None]:
    """`train_model` on `data` in a worker thread while `per_call` (the per-call model:
    its reads wait on the database, its fits run on this thread) is awaited: the lead
    model's fits no longer wait for the per-call reads. Both models are the models a run
    one after the other gives, to the last bit: every fit runs on one BLAS thread (the
    limit is held here around both, so that no fit's own limit, ending, gives the other
    fit back the process's threads mid-solve). A failed lead fit is raised after the
    per-call part ends, as before (nothing is stored either way)."""
    with one_blas_thread():
        fitting = asyncio.ensure_future(asyncio.to_thread(
            train_model, data, s.scoring_regularization_c, s.scoring_horizon_days
        ))  # fmt: skip
        try:
            got = await per_call
        finally:  # the thread is never left running past the limit
            model = await asyncio.shield(fitting)
    return model, got


def describe_model(stored: StoredModel) -> str:
    """One line for status output: which model scores, and why."""
    m = stored.metrics
    if stored.kind == "prior":
        needs = m.get("needs", {})
        return (f"prior scoring (v{stored.version}): {m.get('outcomes', 0)}/"
                f"{needs.get('outcomes', '?')} outcomes, {m.get('bookings', 0)}/"
                f"{needs.get('bookings', '?')} bookings needed to train")  # fmt: skip
    auc = m.get("holdout_auc")
    shown = f"{auc:.3f}" if isinstance(auc, float) else "n/a"
    return (f"trained logistic model v{stored.version} on {m.get('outcomes')} outcomes "
            f"({m.get('bookings')} bookings), holdout AUC {shown}")  # fmt: skip


async def score_all(
    repo: ScoringRepository, logs: LogRepository, clock: Clock, s: Settings, stored: StoredModel
) -> dict[str, Any]:
    """Score with `stored` and write scores, reasons and hot flags back: every lead when
    the model is new (not yet applied), else only the leads marked since the last run.
    Newly hot leads are written to `logs` for the operator."""
    now = clock.now()
    full = stored.applied_at is None
    marked = await repo.marked()
    # leads whose enquiry is younger than the horizon: their "days since the enquiry" moves
    # fastest, and a stale score would rank yesterday's enquiry as if it came in just now
    young = [] if full else await repo.recent_leads(now - timedelta(days=s.scoring_horizon_days))
    wanted = sorted(set(marked.lead_ids) | set(young))
    if not full and not wanted:
        return {"scored": 0, "newly_hot": 0, "full_pass": False}
    cols = from_rendered(await repo.feature_columns(now, None if full else wanted))
    scored = len(cols["lead_id"])
    hot = await _write_scores(repo, clock, s, stored, cols) if scored else []
    await repo.clear_marks(marked.upto, stored.version if full else None, now)
    if hot:
        await logs.write(
            "info", "scoring", f"{len(hot)} lead(s) became hot: call them first", now,
            {"leads": hot[:50]},
        )  # fmt: skip
    return {"scored": scored, "newly_hot": len(hot), "full_pass": full}


async def _write_scores(
    repo: ScoringRepository,
    clock: Clock,
    s: Settings,
    stored: StoredModel,
    cols: dict[str, Any],
) -> list[dict[str, Any]]:
    """Probabilities, reasons and the write-back of the leads of `cols` (`to_columns`'
    shape); the leads that became hot."""
    now = clock.now()  # read again: the feature read before this may have taken a while
    model = ScoreModel.from_json(stored.model)
    proba, contrib = model.explain(cols)
    scores = np.round(proba * 100.0, 1)
    reasons = reason_texts(model.groups, cols, contrib, now)
    ids = cols["lead_id"].tolist()
    hot: list[dict[str, Any]] = []
    for start in range(0, len(ids), WRITE_BATCH):
        end = start + WRITE_BATCH
        result = await repo.apply_scores(
            ids[start:end], scores[start:end].tolist(), reasons[start:end],
            s.scoring_hot_threshold, now,
        )  # fmt: skip
        hot += result.newly_hot
    return hot
