"""`nightshift simulate --leads N --days D --seed S [--json]`."""

from __future__ import annotations

import asyncio
import json

import typer

from app.core import logs
from app.simulate.engine import SimConfig
from app.simulate.engine import simulate as run


def simulate(
    leads: int = typer.Option(200, "--leads", min=1, max=80_000, help="Simulated leads."),
    days: float = typer.Option(3.0, "--days", min=0.01, help="Virtual days to run."),
    seed: int = typer.Option(1, "--seed", help="RNG seed: same seed, same run."),
    as_json: bool = typer.Option(False, "--json", help="Emit the report as JSON."),
    dsn: str | None = typer.Option(
        None,
        "--dsn",
        help="A Postgres server to create the run's fresh database on "
        "(default: an embedded Postgres in a temporary directory).",
    ),
) -> None:
    """Run the real jobs and webhook handlers on a virtual clock against simulated
    providers and leads; print messages, calls, bookings, opt-outs, compliance violations,
    duplicates, learned best hours and the scoring AUC. Exit 1 on any violation/duplicate."""
    logs.configure("ERROR")
    report = asyncio.run(run(SimConfig(leads=leads, days=days, seed=seed, admin_dsn=dsn)))
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.text())
    audit = report.audit
    if audit["violations"] or audit["duplicate_keys"] or audit["duplicate_rows"]:
        raise typer.Exit(1)
