"""`nightshift simulate --leads N --days D --seed S [--assistants A=1,B=1.5] [--json]`."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from typing import cast, get_args

import typer

from app.cli.support import progress_bar
from app.core import logs
from app.simulate.assistants import parse_assistants
from app.simulate.engine import TICK, CallOrder, SimConfig
from app.simulate.engine import simulate as run

ORDERS = get_args(CallOrder)


def simulate(
    leads: int = typer.Option(200, "--leads", min=1, max=80_000, help="Simulated leads."),
    days: float = typer.Option(3.0, "--days", min=0.01, help="Virtual days to run."),
    seed: int = typer.Option(1, "--seed", help="RNG seed: same seed, same run."),
    as_json: bool = typer.Option(False, "--json", help="Emit the report as JSON."),
    call_order: str = typer.Option(
        "score",
        "--call-order",
        help="The call queue's order: score (the per-call model, as in production), "
        "random, or oracle (the simulated leads' hidden chance to book).",
    ),
    assistants: str = typer.Option(
        "",
        "--assistants",
        help="Assistant versions on trial with their true booking factors, e.g. "
        "current=1.0,candidate=1.5: each call's version is chosen by Thompson sampling on "
        "booking rate (docs/agents.md); the report's `agents`.",
    ),
    dsn: str | None = typer.Option(
        None,
        "--dsn",
        help="A Postgres server to create the run's fresh database on "
        "(default: an embedded Postgres in a temporary directory).",
    ),
) -> None:
    """Run the real jobs and webhook handlers on a virtual clock against simulated
    providers and leads; print messages, calls, bookings, opt-outs, compliance violations,
    duplicates, learned best hours and the forward-looking scoring figures. Exit 1 on any
    violation/duplicate."""
    logs.configure("ERROR")
    if call_order not in ORDERS:
        raise typer.BadParameter(f"--call-order must be one of {', '.join(ORDERS)}")
    try:
        trial = tuple(parse_assistants(assistants).items())
    except ValueError as exc:
        raise typer.BadParameter(f"--assistants: {exc}") from exc
    ticks = math.ceil(days * 24 * 60 / (TICK.total_seconds() / 60))
    with progress_bar("simulating (5-minute ticks)", total=ticks) as advance:
        done = itertools.count(1)
        config = SimConfig(
            leads=leads, days=days, seed=seed, admin_dsn=dsn,
            call_order=cast(CallOrder, call_order), progress=lambda _: advance(next(done)),
            assistants=trial,
        )  # fmt: skip
        report = asyncio.run(run(config))
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.text())
    audit = report.audit
    if audit["violations"] or audit["duplicate_keys"] or audit["duplicate_rows"]:
        raise typer.Exit(1)
