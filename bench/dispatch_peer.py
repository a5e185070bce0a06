"""`bench/dispatch.py --peer`: nightshift's queue primitives beside pgqueuer's, same database.

The same number of jobs (the due steps) are consumed in batches of DRIP_BATCH_SIZE:
- nightshift: `claim_due_steps` (due enrollments, FOR UPDATE SKIP LOCKED + lease, the opt-out
  and consent checks, the lead/campaign/step snapshot) then `complete_steps` (advance) for
  each batch, through the repository production uses; nothing is sent;
- its queue part alone: the same due select (FOR UPDATE SKIP LOCKED, the claim's order) and
  lease update, the snapshot and checks left out (this SQL is the bench's, a copy of the
  claim's first and third statements), then the production `complete_steps`: what
  pgqueuer's dequeue + ack stand for. Printed as a split, never run by production;
- pgqueuer (a general-purpose Postgres job queue): its schema installed in the same database,
  the jobs enqueued in one batch call, then `dequeue` (FOR UPDATE SKIP LOCKED, status
  'picked') and `log_jobs` (the ack: the row moved to the log table) for each batch.
Each is timed from its first claim/dequeue to its last settle/ack (one connection each, warmed by
one empty call): jobs per second.

What nightshift's claim + settle does that pgqueuer's dequeue + ack does not (per step, from
EXPLAIN ANALYZE of a 500-step claim, 20261207112000_drip_claim_reads.sql): the gate's reads
(the opt-out and consent checks, ~12 us) and the snapshot the planner needs (the lead, its
texts and calls of the last 24 h, the campaign and step once per batch: ~16 us built, ~11 us
parsed and validated in Python). What both do: a claimed step is a new version of its
`enrollments` row at the lease (~12 us) and again at the settle, each with an entry in the
table's 5 indexes (6 before migration 20261208140000); a pgqueuer job is updated at its
dequeue and deleted and logged at its ack (its queue table has 9 indexes, most partial, its
log 5). The queue part alone is printed to show that split, not in place of the production
figure.
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

QUEUE_CLAIM = """
update enrollments e set lease_owner = %(worker)s,
       lease_expires_at = %(now)s + make_interval(secs => 600)
 where e.id in (
   select e2.id from enrollments e2
    where e2.status = 'active' and e2.next_run_at <= %(now)s
      and (e2.lease_expires_at is null or e2.lease_expires_at <= %(now)s)
      and exists (select 1 from campaigns c where c.id = e2.campaign_id and c.status = 'active')
    order by e2.next_run_at, e2.id
    limit %(limit)s
    for update of e2 skip locked)
returning e.id
"""


@dataclass(frozen=True)
class PeerFigures:
    jobs: int
    nightshift_s: float  # claim + settle of every job
    queue_s: float  # the queue part alone: the due select + lease, and the settle
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


async def queue_only_consume(dsn: str, due: int, batch: int, now: datetime) -> float:
    """The claim's due select and lease alone (QUEUE_CLAIM) then `complete_steps`, `batch` at
    a time, until `due` steps are consumed: seconds."""
    transport = await PostgresTransport(dsn, max_size=1).open()
    repo, done, worker = CampaignRepository(transport), 0, f"queue:{uuid.uuid4().hex[:8]}"
    args = {"worker": worker, "now": now}
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(QUEUE_CLAIM, {**args, "limit": 0})  # warm
            await repo.complete(worker, [StepResult(enrollment_id=0, action="advance")], now)
            started = time.perf_counter()
            while done < due:
                ids = [
                    r[0]
                    for r in await (
                        await conn.execute(QUEUE_CLAIM, {**args, "limit": batch})
                    ).fetchall()
                ]
                if not ids:
                    break
                results = [StepResult(enrollment_id=i, action="advance") for i in ids]
                await repo.complete(worker, results, now)
                done += len(ids)
            assert done == due, (done, due)
            return time.perf_counter() - started
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
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        # the same steps due again (their leads are 1..due, as dispatch.py seeds them; the
        # claim + settle above completed them: their last step)
        await conn.execute(
            "update enrollments set status = 'active', current_step = 0, next_run_at = %s"
            " where lead_id <= %s",
            (now, due),
        )
    queue_s = await queue_only_consume(dsn, due, batch, now)
    jobs, enqueue_s, pgqueuer_s = await pgqueuer_consume(dsn, due, batch)
    assert steps == jobs == due, (steps, jobs, due)
    return PeerFigures(due, nightshift_s, queue_s, enqueue_s, pgqueuer_s)


def report(fig: PeerFigures, batch: int) -> str:
    """The comparison lines `dispatch.py --peer` prints."""
    ours, theirs = fig.jobs / fig.nightshift_s, fig.jobs / fig.pgqueuer_s
    return (
        f"{'':>10} peer, {fig.jobs:,} jobs in batches of {batch}: nightshift claim + settle "
        f"{fig.nightshift_s:.2f} s ({ours:,.0f}/s); pgqueuer dequeue + ack {fig.pgqueuer_s:.2f} s "
        f"({theirs:,.0f}/s; its enqueue {fig.enqueue_s:.2f} s); nightshift/pgqueuer "
        f"{ours / theirs:.2f}\n"
        f"{'':>10} split: the queue part alone (due select + lease, settle; no gate, no "
        f"snapshot: not the production claim) {fig.queue_s:.2f} s, "
        f"queue part/pgqueuer {fig.pgqueuer_s / fig.queue_s:.2f}; the gate's checks and the "
        f"snapshot the rest ({fig.nightshift_s - fig.queue_s:.2f} s)"
    )
