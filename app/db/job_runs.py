"""What a job run's start records (`RunRequest`), and the start of a run that makes its
first read in the same round trip (`begin_args`, `call_begin`).

`start_job_run` (supabase/schemas/01_core.sql) takes the job's lease and records the run; a
job's begin function (e.g. `appointments_begin` in 07_appointments.sql) calls it first and,
only when the run got the lease, makes the job's first read in the same transaction. A
begin function answers `{"start": <start_job_run's row>, "read": <the read, or null>}`:
null when the run was skipped, or when the read failed (the body then reads in its own call
and meets the failure there, so the run is recorded as failed as it always was).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from app.db.models import RunStart
from app.db.transport import Transport


@dataclass(frozen=True)
class RunRequest:
    """One run's start: the job, its run id, the lease holder and length, the instant, and
    the Modal call id (None locally)."""

    job: str
    run_id: UUID
    holder: str
    lease_seconds: int
    now: datetime
    modal_call_id: str | None = None


def begin_args(run: RunRequest) -> dict[str, Any]:
    """`start_job_run`'s arguments, as every begin function takes them first."""
    return {
        "p_job": run.job,
        "p_run_id": run.run_id,
        "p_holder": run.holder,
        "p_lease_seconds": run.lease_seconds,
        "p_modal_call_id": run.modal_call_id,
        "p_now": run.now,
    }


async def call_begin(
    transport: Transport, function: str, run: RunRequest, args: dict[str, Any]
) -> tuple[RunStart, Any]:
    """Call the begin function `function` for `run` with its own `args`: the run's start and
    the read (None: not made)."""
    rows = await transport.call(function, {**begin_args(run), **args})
    answer = rows[0][function]
    return RunStart.model_validate(answer["start"]), answer.get("read")
