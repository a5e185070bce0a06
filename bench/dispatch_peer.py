"""`bench/dispatch.py --peer`: nightshift's queue primitives beside pgqueuer's, same database.

The same number of jobs (the due steps) are consumed twice, in batches of DRIP_BATCH_SIZE:
- nightshift: `claim_due_steps` (due enrollments, FOR UPDATE SKIP LOCKED + lease, the opt-out
  and consent checks, the lead/campaign/step snapshot) then `complete_steps` (advance) for
  each batch, through the repository production uses; nothing is sent;
- pgqueuer (a general-purpose Postgres job queue): its schema installed in the same database,
  the jobs enqueued in one batch call, then `dequeue` (FOR UPDATE SKIP LOCKED, status
  'picked') and `log_jobs` (the ack: the row moved to the log table) for each batch.
Each is timed from its first claim/dequeue to its last settle/ack (one connection each, warmed by
one empty call): jobs per second.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from pgqueuer.adapters.drivers.psycopg import PsycopgDriver
from pgqueuer.models import Job
from pgqueuer.queries import EntrypointExecutionParameter, Queries
from pgqueuer.types import QueueEntrypoint, QueueManagerId

from app.db.campaigns import CampaignRepository, StepResult
from app.db.transport import PostgresTransport


@dataclass(frozen=True)
class PeerFigures:
    jobs: int
    nightshift_s: float  # claim + settle of every job
    enqueue_s: float  # pgqueuer: one batch enqueue of every job
    pgqueuer_s: float  # dequeue + ack of every job


async def nightshift_consume(dsn: str, due: int, batch: int, now: datetime) -> tuple[int, float]:
    """Claim and settle every due step, `batch` at a time: (steps, seconds)."""
    transport = await PostgresTransport(dsn, max_size=1).open()
    repo, done, worker = CampaignRepository(transport), 0, f"peer:{uuid.uuid4().hex[:8]}"
    await repo.claim_due(worker, 0, 600, now)  # warm: the functions compiled, as in a worker
    started = time.perf_counter()
    try:
        while done < due:
            steps = await repo.claim_due(worker, batch, 600, now)
            if not steps:
                break
            results = [StepResult(enrollment_id=s.enrollment_id, action="advance") for s in steps]
            await repo.complete(worker, results, now)
            done += len(steps)
        return done, time.perf_counter() - started
    finally:
        await transport.close()


async def pgqueuer_consume(dsn: str, jobs: int, batch: int) -> tuple[int, float, float]:
    """Install pgqueuer, enqueue `jobs` in one call, dequeue + ack them `batch` at a time:
    (jobs consumed, enqueue seconds, dequeue + ack seconds)."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        queries = Queries(PsycopgDriver(conn))
        await queries.install()
        started = time.perf_counter()
        await queries.enqueue(
            ["drip"] * jobs, [f"step {i}".encode() for i in range(jobs)], [0] * jobs
        )
        enqueued = time.perf_counter() - started
        entrypoints = {QueueEntrypoint("drip"): EntrypointExecutionParameter(0)}
        manager, done = QueueManagerId(uuid.uuid4()), 0
        await queries.log_jobs([])  # warm, as nightshift's claim is
        started = time.perf_counter()
        while done < jobs:
            picked: list[Job] = await queries.dequeue(
                batch, entrypoints, manager, None, timedelta(seconds=30)
            )
            if not picked:
                break
            await queries.log_jobs([(job, "successful", None) for job in picked])
            done += len(picked)
        return done, enqueued, time.perf_counter() - started


async def measure_peer(dsn: str, due: int, batch: int, now: datetime) -> PeerFigures:
    """Both, on the bench database whose `due` enrollments are due at `now` again."""
    steps, nightshift_s = await nightshift_consume(dsn, due, batch, now)
    jobs, enqueue_s, pgqueuer_s = await pgqueuer_consume(dsn, due, batch)
    assert steps == jobs == due, (steps, jobs, due)
    return PeerFigures(due, nightshift_s, enqueue_s, pgqueuer_s)


def report(fig: PeerFigures, batch: int) -> str:
    """The comparison lines `dispatch.py --peer` prints."""
    ours, theirs = fig.jobs / fig.nightshift_s, fig.jobs / fig.pgqueuer_s
    return (
        f"{'':>10} peer, {fig.jobs:,} jobs in batches of {batch}: nightshift claim + settle "
        f"{fig.nightshift_s:.2f} s ({ours:,.0f}/s); pgqueuer dequeue + ack {fig.pgqueuer_s:.2f} s "
        f"({theirs:,.0f}/s; its enqueue {fig.enqueue_s:.2f} s); nightshift/pgqueuer "
        f"{ours / theirs:.2f}"
    )
