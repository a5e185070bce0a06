"""Job heartbeats: up → late → down → restarted → up with the alerts each step sends; the
restart limit escalating instead of looping; stalled and failed runs."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.alerts import Alerts
from app.core.clock import ManualClock
from app.db.alerts import Alert, AlertRepository
from app.guardian.heartbeats import classify
from app.guardian.loop import guard
from app.jobs import JOBS, get_job
from app.jobs.guardian import guardian_deps
from app.jobs.launcher import LocalJobLauncher
from app.jobs.runner import run_job
from tests.alerts.support import EMAIL, ESCALATION, PHONE, MakeCtx, query, sent_to


class RecordingLauncher:
    """A launcher whose restarts never bring the job back."""

    def __init__(self) -> None:
        self.launched: list[str] = []

    async def launch(self, job: str) -> str:
        self.launched.append(job)
        return f"fc-test-{len(self.launched)}"


@pytest.fixture(autouse=True)
def quick_drip(monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(*collaborators: Any) -> dict[str, Any]:  # whatever the entry hands it
        return {"sent": 0}

    monkeypatch.setattr("app.campaigns.drip.run", body)


def status(dsn: str, key: str) -> str | None:
    rows = query(dsn, "select status from alerts where key = %s order by id desc limit 1", key)
    return rows[0]["status"] if rows else None


def bodies(dsn: str, address: str) -> list[str]:
    return [m["payload"]["body"] for m in sent_to(dsn, address)]


async def test_a_job_goes_late_then_down_is_restarted_and_comes_back_up(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    launcher = LocalJobLauncher(ctx)
    await run_job(ctx, "drip")  # drip: period 5 min + grace 5 min

    clock.advance(timedelta(minutes=10))
    up = await guard(guardian_deps(ctx), launcher, JOBS)
    assert up["up"] == 1 and status(database_dsn, "job.drip.late") is None

    clock.advance(timedelta(minutes=1))
    late = await guard(guardian_deps(ctx), launcher, JOBS)
    assert late["late"] == 1 and status(database_dsn, "job.drip.late") == "firing"
    assert sent_to(database_dsn, PHONE) == []  # a warning: email only
    assert "[WARN] job.drip.late" in sent_to(database_dsn, EMAIL)[0]["payload"]["text"]

    clock.advance(timedelta(minutes=10))
    down = await guard(guardian_deps(ctx), launcher, JOBS)
    outcomes = await launcher.drain()
    assert (down["down"], down["restarted"]) == (1, 1)
    assert [(o.job, o.status) for o in outcomes] == [("drip", "succeeded")]
    assert status(database_dsn, "job.drip.down") == "firing"
    assert status(database_dsn, "job.drip.late") == "resolved"
    assert bodies(database_dsn, PHONE)[0].startswith("[CRIT] job.drip.down: drip is down")

    clock.advance(timedelta(minutes=5))
    back = await guard(guardian_deps(ctx), launcher, JOBS)
    assert back["up"] == 1 and status(database_dsn, "job.drip.down") == "resolved"
    assert bodies(database_dsn, PHONE)[-1].startswith("[RESOLVED CRIT] job.drip.down")
    assert len(bodies(database_dsn, PHONE)) == 2  # down, then resolved: nothing else paged


async def test_restart_limit_escalates_and_stops_restarting(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx(guardian_max_restarts_per_hour=2)
    launcher = RecordingLauncher()
    await run_job(ctx, "drip")
    clock.advance(timedelta(minutes=21))
    for _ in range(4):  # every 5 minutes, the job never comes back
        await guard(guardian_deps(ctx), launcher, JOBS)
        clock.advance(timedelta(minutes=5))

    assert launcher.launched == ["drip", "drip"]
    assert status(database_dsn, "job.drip.restart_limit") == "firing"
    # the limit pages the escalation phone at once (job.drip.down escalates 15 min in)
    escalated = bodies(database_dsn, ESCALATION)
    assert escalated[0].startswith("[ESCALATED CRIT] job.drip.restart_limit")
    assert [b.split()[2] for b in escalated] == ["job.drip.restart_limit:", "job.drip.down:"]
    (row,) = query(database_dsn, "select count(*) as n from job_restarts where job = 'drip'")
    assert row["n"] == 2


async def test_a_run_past_its_timeout_is_stalled_critical_and_restarted(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    ctx = await make_ctx()
    launcher = RecordingLauncher()
    job = get_job("appointments")
    await ctx.repos.job_runs.start(job.name, uuid.uuid4(), "dead:1", 300, clock.now())
    clock.advance(timedelta(seconds=job.timeout_seconds))
    at_timeout = await guard(guardian_deps(ctx), launcher, JOBS)
    assert at_timeout.get("stalled", 0) == 0  # at its timeout: still fine
    clock.advance(timedelta(seconds=1))
    counts = await guard(guardian_deps(ctx), launcher, JOBS)

    assert counts["stalled"] == 1 and launcher.launched == ["appointments"]
    assert "[CRIT] job.appointments.stalled" in bodies(database_dsn, PHONE)[0]


async def test_a_failed_run_warns_and_the_next_success_resolves_it(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = await make_ctx()

    async def broken(*collaborators: Any) -> dict[str, Any]:
        raise RuntimeError("template missing")

    monkeypatch.setattr("app.campaigns.drip.run", broken)
    await run_job(ctx, "drip", reraise=False)
    await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    (row,) = query(database_dsn, "select severity, title from alerts where key = 'job.drip.failed'")
    assert row == {
        "severity": "warning",
        "title": "drip's last run failed: RuntimeError: template missing",
    }

    monkeypatch.undo()
    monkeypatch.setattr("app.campaigns.drip.run", lambda *collaborators: _ok())
    clock.advance(timedelta(minutes=5))
    await run_job(ctx, "drip")
    await guard(guardian_deps(ctx), RecordingLauncher(), JOBS)
    assert status(database_dsn, "job.drip.failed") == "resolved"


async def _ok() -> dict[str, Any]:
    return {}


def test_classify_follows_period_and_grace(clock: ManualClock) -> None:
    from app.db.models import JobState

    job = get_job("growth")  # period 1 h, grace 30 min
    state = JobState(
        job="growth",
        run_id=uuid.uuid4(),
        status="succeeded",
        started_at=clock.now(),
        last_success_at=clock.now(),
    )
    at = [timedelta(minutes=m) for m in (90, 91, 180, 181)]
    assert [classify(job, state, clock.now() + d) for d in at] == ["up", "late", "late", "down"]
    assert classify(job, None, clock.now()) == "new"


async def test_a_quiet_run_resolves_nothing_and_reads_the_firing_keys_once(
    make_ctx: MakeCtx, clock: ManualClock, database_dsn: str
) -> None:
    # Every run checks ~20 keys that could need resolving; only firing ones cost a round trip.
    ctx = await make_ctx()
    launcher = LocalJobLauncher(ctx)
    await run_job(ctx, "drip")
    repo = _CountingResolves(ctx.transport)
    deps = guardian_deps(ctx)
    deps = replace(deps, watch=replace(deps.watch, alerts=Alerts(repo, clock, ctx.alerts.policy)))
    resolved = repo.resolved
    clock.advance(timedelta(minutes=1))
    await guard(deps, launcher, JOBS)
    assert resolved == []

    clock.advance(timedelta(minutes=11))  # drip late: raised; back up: resolved, one call
    await guard(deps, launcher, JOBS)
    await run_job(ctx, "drip")
    await guard(deps, launcher, JOBS)
    assert resolved == ["job.drip.late"]
    assert status(database_dsn, "job.drip.late") == "resolved"


class _CountingResolves(AlertRepository):
    """The alerts repository, noting each key it is asked to resolve."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.resolved: list[str] = []

    async def resolve(self, key: str, now: datetime) -> Alert | None:
        self.resolved.append(key)
        return await super().resolve(key, now)
