"""The simulation loop: real jobs and real webhook handlers on a virtual clock.

Contract of `simulate(config)`:
- a fresh database per run: a new database on the server of `config.admin_dsn` (else on an
  embedded Postgres started in a temporary directory), migrated, dropped afterwards;
- the graph is the production one (`bootstrap`) with a ManualClock and the simulated
  adapters as its ports (`sim_ports`), behind the same `OutboxDelivery`, so every outbox rule
  holds;
- leads from `make_population` and the two example campaigns are loaded through the same
  repository calls the CLI uses;
- the clock moves in 5-minute ticks; at each tick the webhooks due are posted (in-process
  ASGI), then every registry job whose cron is due runs through `run_job`;
- deterministic for a seed: the leads, their behaviour and the graph's random generator
  (an `Overrides.rng`: the call-slot Thompson sampling in campaign_manager) are drawn from
  `config.seed`; no library's global state is touched;
- returns the `Report` (app.simulate.report), built only after the last tick.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg import conninfo, sql

from app.campaigns.definition import load_campaign_yaml
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.transport import PostgresTransport
from app.jobs import JOBS
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.registry import next_fire
from app.jobs.runner import run_job
from app.providers.build import Ports
from app.providers.ratelimit import unlimited
from app.simulate.events import EventQueue
from app.simulate.population import SimLead, make_population
from app.simulate.providers import SimCalls, SimEmail, SimSms, World
from app.simulate.report import Report, build_report
from app.webhooks import create_app

TICK = timedelta(minutes=5)
START = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # a Monday, midnight on the east coast
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INTERRUPTS = ("KeyboardInterrupt", "CancelledError", "SystemExit")
CAMPAIGNS = ("speed-to-lead.yaml", "hvac-tune-up-recall.yaml")


@dataclass(frozen=True)
class SimConfig:
    leads: int
    days: float
    seed: int
    admin_dsn: str | None = None  # a server we may create databases on; None: embedded


def sim_settings(base: Settings) -> Settings:
    """Development settings with every credential, secret and outside URL removed: nothing
    leaves the process, webhooks are accepted unsigned, and the calendar has room."""
    cleared = dict.fromkeys((
        "database_url", "supabase_url", "supabase_service_role_key", "resend_api_key",
        "resend_webhook_secret", "twilio_account_sid", "twilio_auth_token", "vapi_api_key",
        "vapi_webhook_secret", "vapi_webhook_hmac_secret", "heartbeat_url",
        "booking_webhook_secret", "status_token",
    ))  # fmt: skip
    return base.model_copy(update={
        **cleared, "nightshift_env": type(base.nightshift_env)("development"),
        "twilio_from_number": "+15005550006", "oncall_phones": [], "oncall_emails": [],
        "oncall_escalation_phones": [], "operator_emails": [], "business_timezone":
        "America/New_York", "booking_hours": "08:00-20:00", "appointment_minutes": 15,
        # a lead's label (booked or not) settles 1 day after first contact, not 30: the
        # scoring model can then train within a simulated month
        "scoring_horizon_days": 1,
    })  # fmt: skip


def _admin(dsn: str, statement: sql.Composed) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


@contextmanager
def fresh_database(admin_dsn: str | None) -> Iterator[str]:
    """A new, migrated database; dropped (and the embedded server stopped) on exit."""
    with tempfile.TemporaryDirectory(prefix="nightshift-sim-") as tmp:
        server = None
        if admin_dsn is None:
            server = start_embedded(str(Path(tmp) / "pg"))
            admin_dsn = str(server.get_uri())
        name = f"sim_{uuid.uuid4().hex[:12]}"
        _admin(admin_dsn, sql.SQL("create database {}").format(sql.Identifier(name)))
        try:
            # a throwaway database: no fsync wait per commit (the run is not worth keeping)
            fast = sql.SQL("alter database {} set synchronous_commit = off")
            _admin(admin_dsn, fast.format(sql.Identifier(name)))
            dsn = conninfo.make_conninfo(admin_dsn, dbname=name)
            migrate(dsn)
            yield dsn
        finally:
            drop = sql.SQL("drop database if exists {} with (force)")
            _admin(admin_dsn, drop.format(sql.Identifier(name)))
            if server is not None:
                server.cleanup()


def sim_ports(world: World) -> Ports:
    """The simulated adapters, built into the graph behind the real OutboxDelivery (same
    rules, same alert hook). They answer at once: their limiters never wait, so drip claims
    a channel's whole batch per call (`OutboxDelivery.claim_chunk`)."""
    pace = {"email": unlimited(world.clock), "sms": unlimited(world.clock)}
    return Ports(SimEmail(world), SimSms(world), SimCalls(world), limiters=pace)


async def load_world(ctx: Context, leads: list[SimLead]) -> None:
    """Leads in batches of 1,000 and the two example campaigns, as the CLI loads them."""
    now = ctx.clock.now()
    for i in range(0, len(leads), 1000):
        await ctx.repos.leads.upsert([lead.lead_in() for lead in leads[i : i + 1000]], now)
    for name in CAMPAIGNS:
        campaign = load_campaign_yaml((EXAMPLES / name).read_text(encoding="utf-8"))
        await ctx.repos.campaigns.upsert(campaign.to_row(), now)


@dataclass
class Tally:
    """Job runs by `job:status`, and real seconds spent per job and posting webhooks."""

    runs: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def as_dict(self) -> dict[str, Any]:
        spent = {k: round(v, 1) for k, v in sorted(self.seconds.items())}
        return {"job_runs": dict(sorted(self.runs.items())), "seconds_by_part": spent}


async def _webhooks(world: World, http: httpx.AsyncClient, now: datetime, tally: Tally) -> None:
    started = time.perf_counter()
    await world.queue.deliver_due(now, http)
    tally.seconds["webhooks"] += time.perf_counter() - started


async def run_ticks(ctx: Context, world: World, http: httpx.AsyncClient, end: datetime) -> Tally:
    """Tick until `end`: webhooks due, then due jobs (registry order). A failed run is
    recorded by run_job and the simulation goes on; an interrupt stops it."""
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    due = {job.name: next_fire(job, clock.now() - timedelta(seconds=1)) for job in JOBS}
    tally = Tally()
    while clock.now() < end:
        now = clock.now()
        await _webhooks(world, http, now, tally)
        for job in JOBS:
            if due[job.name] <= now:
                outcome = await run_job(ctx, job.name, reraise=False)
                if (outcome.error or "").startswith(INTERRUPTS):  # run_job keeps going
                    raise KeyboardInterrupt(outcome.error)
                due[job.name] = next_fire(job, now)
                tally.runs[f"{job.name}:{outcome.status}"] += 1
                tally.seconds[job.name] += outcome.seconds
        clock.advance(TICK)
    await _webhooks(world, http, clock.now(), tally)
    return tally


async def simulate(config: SimConfig, base: Settings | None = None) -> Report:
    """Run one simulation (see the module contract) and return its report."""
    started = time.perf_counter()
    settings = sim_settings(base or Settings(_env_file=None))
    rng = np.random.default_rng(config.seed)
    leads = make_population(config.leads, rng)
    clock = ManualClock(START)
    # the graph's own generator (call-slot sampling), its own stream of the run's seed
    jobs_rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(1)[0])
    with fresh_database(config.admin_dsn) as dsn:
        transport = await PostgresTransport(dsn, max_size=settings.db_pool_max_size).open()
        try:
            by_address = {a: lead for lead in leads for a in (lead.phone, lead.email)}
            world = World(clock, rng, EventQueue(), by_address, config.seed)
            overrides = Overrides(
                clock=clock, transport=transport, ports=sim_ports(world), rng=jobs_rng
            )
            async with bootstrap(settings, overrides) as ctx:
                await load_world(ctx, leads)
                runs = await _drive(ctx, world, START + timedelta(days=config.days))
                return await build_report(ctx, world, leads, config, started, runs.as_dict())
        finally:
            await transport.close()


async def _drive(ctx: Context, world: World, end: datetime) -> Tally:
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
        async with httpx.AsyncClient(transport=asgi, base_url=ctx.settings.public_base_url) as http:
            return await run_ticks(ctx, world, http, end)
