"""`nightshift insights ...` (what the growth loop learned) and `nightshift export training`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from app.cli.support import progress_bar, with_context
from app.jobs.bootstrap import Context
from app.scoring.export import export_training
from app.scoring.leads import describe_model
from app.scoring.timing import TimingModel, load_configured_timing, table

insights_cli = typer.Typer(help="What growth learned: scores, timing, A/B, failures, calls.",
                           no_args_is_help=True)  # fmt: skip
export_cli = typer.Typer(help="Export data sets learned from the system's outcomes.",
                         no_args_is_help=True)  # fmt: skip


def _run(work: Any) -> Any:
    return with_context(work)


async def scoring_status_lines(ctx: Context, limit: int = 5) -> list[str]:
    """Which model scores leads, then the top `limit` leads (the call order) with their
    reasons: for `nightshift insights scores` and for `nightshift status` to print."""
    now = ctx.clock.now()
    model = await ctx.repos.scoring.latest_model(now)
    lines = [describe_model(model) if model else "no scoring model yet: growth has not run"]
    for lead in await ctx.repos.scoring.top_leads(limit, now):
        hot = " HOT" if lead.hot_at else ""
        lines.append(
            f"{lead.score:5.1f}{hot:4} #{lead.lead_id:<6} {lead.name or '-':<24} "
            f"{'; '.join(lead.score_reasons)}"
        )
    return lines


@insights_cli.command("scores")
def scores(limit: int = typer.Option(20, help="How many leads to show.")) -> None:
    """The call order: highest-scored leads, their top reasons, and which model scores."""
    for line in _run(lambda ctx: scoring_status_lines(ctx, limit)):
        typer.echo(line)


@insights_cli.command("timing")
def timing() -> None:
    """Answer and booking rate per state and local hour (Beta-Binomial posterior means over
    the last TIMING_WINDOW_DAYS of calls)."""

    async def work(ctx: Context) -> TimingModel:
        return await load_configured_timing(ctx.repos.scoring, ctx.clock.now(), ctx.settings)

    model = _run(work)
    typer.echo(f"prior answer rate {model.answer_prior.mean:.3f}, "
               f"booking rate {model.booking_prior.mean:.3f}")  # fmt: skip
    typer.echo(
        f"{'state':<6}{'hour':>5}{'calls':>7}{'answer':>8}  {'95% interval':<15}{'booking':>8}"
    )
    for row in table(model):
        low, high = row.answer_95
        typer.echo(f"{row.state:<6}{row.hour:>5}{row.calls:>7}{row.answer_rate:>8.3f}"
                   f"  {low:.3f}-{high:.3f}    {row.booking_rate:>8.3f}")  # fmt: skip


@insights_cli.command("variants")
def variants() -> None:
    """A/B steps: each variant's sends, successes, P(best) and the promoted winner."""

    async def work(ctx: Context) -> Any:
        return await ctx.repos.scoring.variant_decisions()

    for d in _run(work):
        winner = f"WINNER {d.winner} (since {d.promoted_at:%Y-%m-%d})" if d.winner else "testing"
        typer.echo(f"{d.campaign} step {d.step_position} ({d.channel}, goal {d.goal}): {winner}")
        for name, arm in sorted(d.arms.items()):
            typer.echo(f"    {name}: {arm['successes']}/{arm['n']}  P(best) "
                       f"{d.p_best.get(name, 0.0):.3f}")  # fmt: skip


@insights_cli.command("failures")
def failures(limit: int = typer.Option(10, help="How many patterns.")) -> None:
    """Today's top error patterns, their 7-day daily average, and which are new."""

    async def work(ctx: Context) -> Any:
        return await ctx.repos.scoring.failure_summary(7, limit, ctx.clock.now())

    for p in _run(work):
        new = " NEW" if p.is_new else ""
        typer.echo(
            f"{p.today:>6} today (7-day avg {p.previous_daily_avg:.1f}){new}  {p.fingerprint}"
        )


@insights_cli.command("calls")
def calls(limit: int = typer.Option(20, help="How many calls.")) -> None:
    """Calls whose quality score is below CALL_QUALITY_REVIEW_BELOW, lowest first."""

    async def work(ctx: Context) -> Any:
        below = ctx.settings.call_quality_review_below
        return await ctx.repos.scoring.low_quality(below, limit)

    for c in _run(work):
        typer.echo(f"{c.score:>3} call #{c.call_id} ({c.vapi_call_id or '-'}) lead "
                   f"#{c.lead_id or '-'}: {'; '.join(c.reasons)}")  # fmt: skip


@export_cli.command("training")
def training(out: Path = typer.Option(..., "--out", help="Directory to write into.")) -> None:
    """Booked calls' transcripts and objection -> response pairs (JSONL), plus
    call_handling_playbook.md and objection_responses.md for the agents' knowledge base."""

    async def work(ctx: Context) -> dict[str, int]:
        with progress_bar("exporting booked calls", total=None) as advance:
            counts = await export_training(
                ctx.repos.scoring, ctx.repos.agents, ctx.clock.now(),
                ctx.settings.business_timezone, out,
            )  # fmt: skip
            advance(counts["calls"])
            return counts

    counts = _run(work)
    typer.echo(f"wrote {counts['calls']} booked call(s), {counts['objections']} objection(s) "
               f"to {out}")  # fmt: skip
