"""The simulation loop: real jobs and real webhook handlers on a virtual clock.

Contract of `simulate(config)`:
- a fresh database per run: a new database on the server of `config.admin_dsn` (else on an
  embedded Postgres started in a temporary directory), migrated, dropped afterwards;
- the graph is the production one (`bootstrap`) with a ManualClock and the simulated
  adapters as its ports (`sim_ports`), behind the same `OutboxDelivery`, so every outbox rule
  holds;
- the two example campaigns are loaded through the same repository calls the CLI uses;
  leads from `make_population` arrive over the run (each at its enquiry's tick, through
  the same upsert);
- the clock moves in 5-minute ticks; at each tick the leads due arrive, the webhooks due
  are posted (in-process ASGI), then every registry job whose cron is due runs through
  `run_job`; after each growth run every lead's score is kept (`ScoreLog`: the report's
  forward-looking AUC);
- `config.call_order`: the call queue's order — `score` (the production order: the
  per-call model, CALL_ORDER_RANDOM_SHARE random), `random` (every slot random) or
  `oracle` (the hidden truth: `SimLead.call_books`, through `Overrides.call_ranker`);
- deterministic for a seed: the leads, their behaviour and the graph's random generator
  (an `Overrides.rng`: the call-slot Thompson sampling in campaign_manager) are drawn from
  `config.seed`; no library's global state is touched;
- `config.assistants`: assistant versions on trial with their true booking factors
  (app.simulate.assistants): recorded as the current and candidate versions of the agent
  the example campaigns then name, each placed call's version is chosen by the production
  choice (app.agents.versions: Thompson sampling over the calls rows) from its own stream
  of the seed; the report's `agents`;
- returns the `Report` (app.simulate.report), built only after the last tick.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import psycopg
from psycopg import conninfo, sql
from pydantic import SecretStr
from threadpoolctl import threadpool_limits

from app.campaigns.definition import load_campaign_yaml
from app.core.clock import ManualClock
from app.core.settings import Settings
from app.db.campaigns import QueuedCall
from app.db.embedded import start_embedded
from app.db.migrate import migrate
from app.db.simulate import SimulateRepository
from app.db.transport import PostgresTransport
from app.jobs import JOBS
from app.jobs.bootstrap import Context, Overrides, bootstrap
from app.jobs.registry import next_fire
from app.jobs.runner import run_job
from app.providers.build import Ports
from app.providers.ratelimit import unlimited
from app.scoring.call_order import CallRanker
from app.simulate.asgi import InProcessClient
from app.simulate.assistants import TRIAL_AGENT, SimAssistants
from app.simulate.events import (
    SIM_RESEND_SECRET,
    SIM_TWILIO_AUTH_TOKEN,
    SIM_VAPI_SECRET,
    EventQueue,
    Signer,
)
from app.simulate.population import SimLead, make_population
from app.simulate.providers import SimCalls, SimEmail, SimSms, World
from app.simulate.report import Report, ScoreLog, build_report
from app.webhooks import create_app

TICK = timedelta(minutes=5)
START = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # a Monday, midnight on the east coast
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INTERRUPTS = ("KeyboardInterrupt", "CancelledError", "SystemExit")
CAMPAIGNS = ("speed-to-lead.yaml", "hvac-tune-up-recall.yaml")
CallOrder = Literal["score", "random", "oracle"]
# the share of call slots in random order, per --call-order (score: the setting's own)
RANDOM_SHARE: dict[str, float | None] = {"score": None, "random": 1.0, "oracle": 0.0}


@dataclass(frozen=True)
class SimConfig:
    leads: int
    days: float
    seed: int
    admin_dsn: str | None = None  # a server we may create databases on; None: embedded
    call_order: CallOrder = "score"
    # assistant versions on trial: (version, true booking factor); empty: no trial
    assistants: tuple[tuple[str, float], ...] = ()
    # told the virtual time after every tick (the CLI's progress bar); never changes the run
    progress: Callable[[datetime], None] | None = field(default=None, compare=False)


def sim_settings(base: Settings) -> Settings:
    """Development settings with every credential and outside URL removed (nothing leaves
    the process) and the simulated providers' webhook secrets set, so every webhook is
    verified as in production (events.Signer signs them); the calendar has room."""
    cleared = dict.fromkeys((
        "database_url", "supabase_url", "supabase_service_role_key", "resend_api_key",
        "twilio_account_sid", "vapi_api_key", "vapi_webhook_hmac_secret", "heartbeat_url",
        "booking_webhook_secret", "status_token",
    ))  # fmt: skip
    keys = {"twilio_auth_token": SIM_TWILIO_AUTH_TOKEN, "resend_webhook_secret":
            SIM_RESEND_SECRET, "vapi_webhook_secret": SIM_VAPI_SECRET}  # fmt: skip
    return base.model_copy(update={
        **cleared, **{k: SecretStr(v) for k, v in keys.items()},
        "nightshift_env": type(base.nightshift_env)("development"),
        "twilio_from_number": "+15005550006", "oncall_phones": [], "oncall_emails": [],
        "oncall_escalation_phones": [], "operator_emails": [], "business_timezone":
        "America/New_York", "booking_hours": "08:00-20:00", "appointment_minutes": 15,
        # a training row's label (booked in the next day) settles 1 day after its
        # observation, not 7: the model trains within days; observed and retrained every
        # 6 hours (the production 7 days / 24 hours, scaled down alike). A booking is a
        # positive row at up to 4 snapshots here (1 day / 6 h), at up to 7 in production
        # (7 days / 24 h): SCORING_MIN_BOOKINGS (20 positive rows) scaled alike is 11
        "scoring_horizon_days": 1, "scoring_snapshot_hours": 6.0, "scoring_retrain_hours": 6.0,
        "scoring_min_bookings": 11,
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


async def load_world(ctx: Context, leads: list[SimLead], agent: str | None = None) -> None:
    """The two example campaigns, as the CLI loads them (naming `agent`, a version trial's,
    when given), and `leads` in batches of 1,000."""
    now = ctx.clock.now()
    for name in CAMPAIGNS:
        campaign = load_campaign_yaml((EXAMPLES / name).read_text(encoding="utf-8"))
        if agent is not None:
            campaign = campaign.model_copy(update={"assistant": agent})
        await ctx.repos.campaigns.upsert(campaign.to_row(), now)
    await arrive(ctx, leads)


async def arrive(ctx: Context, leads: list[SimLead]) -> None:
    """Leads whose enquiry comes in now, through the importer's upsert (created now)."""
    now = ctx.clock.now()
    for i in range(0, len(leads), 1000):
        await ctx.repos.leads.upsert([lead.lead_in() for lead in leads[i : i + 1000]], now)


def oracle_ranker(world: World) -> CallRanker:
    """The hidden truth as a call order: each call's chance to book if placed now."""

    def rank(calls: Sequence[QueuedCall], now: datetime) -> list[float]:
        out = []
        for call in calls:
            lead = world.by_address.get(call.lead.phone or "")
            hour = now.astimezone(ZoneInfo(lead.region.timezone)).hour if lead else 12
            out.append(lead.call_books(hour, world.age(lead)) if lead else 0.0)
        return out

    return rank


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


async def run_ticks(
    ctx: Context, world: World, http: httpx.AsyncClient, end: datetime,
    arrivals: list[SimLead] | None = None, scores: ScoreLog | None = None,
    progress: Callable[[datetime], None] | None = None,
) -> Tally:  # fmt: skip
    """Tick until `end`: leads that arrive, webhooks due, then due jobs (registry order);
    after each growth run the scores go to `scores`. A failed run is recorded by run_job
    and the simulation goes on; an interrupt stops it."""
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    due = {job.name: next_fire(job, clock.now() - timedelta(seconds=1)) for job in JOBS}
    tally = Tally()
    waiting = sorted(arrivals or [], key=lambda lead: (lead.arrives_after, lead.index))
    reads = SimulateRepository(ctx.transport)
    while clock.now() < end:
        now = clock.now()
        n = 0
        while n < len(waiting) and world.age(waiting[n]) >= 0:
            n += 1
        if n:
            come, waiting = waiting[:n], waiting[n:]
            await arrive(ctx, come)
        await _webhooks(world, http, now, tally)
        for job in JOBS:
            if due[job.name] <= now:
                outcome = await run_job(ctx, job.name, reraise=False)
                if (outcome.error or "").startswith(INTERRUPTS):  # run_job keeps going
                    raise KeyboardInterrupt(outcome.error)
                due[job.name] = next_fire(job, now)
                tally.runs[f"{job.name}:{outcome.status}"] += 1
                tally.seconds[job.name] += outcome.seconds
                if job.name == "growth" and scores is not None:
                    stored = await ctx.repos.scoring.latest_model(now)
                    trained = stored is not None and stored.kind == "logistic"
                    scores.keep(now, await reads.scores(), trained)
        clock.advance(TICK)
        if progress:
            progress(clock.now())
    await _webhooks(world, http, clock.now(), tally)
    return tally


async def simulate(config: SimConfig, base: Settings | None = None) -> Report:
    """Run one simulation (see the module contract) and return its report."""
    started = time.perf_counter()
    settings = sim_settings(base or Settings(_env_file=None))
    share = RANDOM_SHARE[config.call_order]
    if share is not None:
        settings = settings.model_copy(update={"call_order_random_share": share})
    rng = np.random.default_rng(config.seed)
    leads = make_population(config.leads, rng, config.days)
    clock = ManualClock(START)
    # the graph's own generator (call-slot sampling), its own stream of the run's seed
    jobs_rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(1)[0])
    # Postgres runs beside this process (2 cores here): BLAS threads in the growth job's
    # fits contended with it (72,554 rows: 3.3 s a fit with 2 threads, 0.8 s with one; the
    # same scores, per-call chances and holdout metrics, bench/RESULTS.md). The fits now
    # limit themselves to one BLAS thread in production too (app/scoring/train.py).
    with fresh_database(config.admin_dsn) as dsn, threadpool_limits(limits=1, user_api="blas"):
        transport = await PostgresTransport(dsn, max_size=settings.db_pool_max_size).open()
        try:
            by_address = {a: lead for lead in leads for a in (lead.phone, lead.email)}
            signer = Signer(clock, settings.public_base_url)
            world = World(clock, rng, EventQueue(signer), by_address, config.seed, start=START)
            if config.assistants:
                trial_rng = np.random.default_rng([config.seed, 18])  # its own stream
                world.assistants = SimAssistants(dict(config.assistants), trial_rng)
            ranker = oracle_ranker(world) if config.call_order == "oracle" else None
            overrides = Overrides(
                clock=clock, transport=transport, ports=sim_ports(world), rng=jobs_rng,
                call_ranker=ranker,
            )  # fmt: skip
            async with bootstrap(settings, overrides) as ctx:
                agent = None
                if world.assistants is not None:  # the production choice of a version
                    await world.assistants.install(ctx.repos.agents, clock)
                    agent = TRIAL_AGENT
                await load_world(ctx, [lead for lead in leads if lead.arrives_after <= 0], agent)
                later = [lead for lead in leads if lead.arrives_after > 0]
                scores = ScoreLog()
                end = START + timedelta(days=config.days)
                runs = await _drive(ctx, world, end, later, scores, config.progress)
                return await build_report(
                    ctx, world, leads, config, started, runs.as_dict(), scores
                )
        finally:
            await transport.close()


async def _drive(
    ctx: Context, world: World, end: datetime, arrivals: list[SimLead], scores: ScoreLog,
    progress: Callable[[datetime], None] | None = None,
) -> Tally:  # fmt: skip
    app = create_app(ctx)
    async with app.router.lifespan_context(app):
        # the app called in-process, as uvicorn would hand it each request (app.simulate.asgi)
        client = ("127.0.0.1", 5555)
        async with InProcessClient(app, ctx.settings.public_base_url, client) as http:
            return await run_ticks(ctx, world, http, end, arrivals, scores, progress)
