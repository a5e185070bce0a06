"""`nightshift webhooks replay`: re-apply stored webhook events through the live functions
(app/webhooks/replay.py has the rules: what is replayed, under which key, what is skipped).

Output: one line per event with `--dry-run` (what would be applied), else the counts by
outcome; a progress bar on a terminal. Exit 0, or 2 with one line for a bad option or an
unreachable database.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import typer

from app.appointments.loop import tick
from app.cli.alerts import parse_duration
from app.cli.support import progress_bar, with_context
from app.jobs.appointments import appointment_deps
from app.jobs.bootstrap import Context
from app.webhooks.replay import Replayed, replay_event

webhooks_cli = typer.Typer(help="Stored webhook events: replay.", no_args_is_help=True)
PAGE = 200


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """`2026-12-01`, `2026-12-01T08:00:00Z` (UTC when no zone) or a duration back from now
    (`6h`, `2d`); None when not given."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return now - parse_duration(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


SINCE_HELP = "Received since: an ISO time (UTC when no zone) or a duration back (6h, 2d)."
KIND_HELP = "A provider (twilio, resend, vapi, booking) or an event type (sms.status, optOut)."
PROCESSED_HELP = (
    "Also events that were applied (default: only those whose application did not take: "
    "ignored, failed); their effects are applied a second time."
)


@webhooks_cli.command("replay")
def replay(
    since: str | None = typer.Option(None, "--since", help=SINCE_HELP),
    kind: str | None = typer.Option(None, "--kind", help=KIND_HELP),
    event_id: int | None = typer.Option(None, "--id", help="Only the event with this id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be applied."),
    include_processed: bool = typer.Option(False, "--include-processed", help=PROCESSED_HELP),
) -> None:
    """Re-apply stored events through the live functions; a second replay changes nothing."""

    async def work(ctx: Context) -> tuple[Counter[str], list[str]]:
        start = parse_since(since, ctx.clock.now())
        repo = ctx.repos.webhooks
        total = await repo.count_for_replay(
            since=start, kind=kind, event_id=event_id, include_processed=include_processed
        )
        counts: Counter[str] = Counter()
        lines: list[str] = []
        after, done, bookings = 0, 0, False
        with progress_bar("replaying webhook events", total) as advance:
            while page := await repo.events_for_replay(
                since=start, kind=kind, event_id=event_id,
                include_processed=include_processed, after_id=after, limit=PAGE,
            ):  # fmt: skip
                for event in page:
                    result = await replay_event(ctx, event, dry_run=dry_run)
                    counts[result.outcome] += 1
                    if dry_run or result.outcome == "skipped":
                        lines.append(_line(event.id, event.dedupe_key, result))
                    if result.message_ids:
                        await ctx.providers.delivery.deliver_each(result.message_ids)
                    bookings = bookings or result.appointments
                    done += 1
                    advance(done)
                after = page[-1].id
        if bookings:  # confirmations of replayed bookings, as the booking route does
            await tick(appointment_deps(ctx))
        return counts, lines

    counts, lines = with_context(work, sends=not dry_run)  # a bad --since: BadParameter, exit 2
    for line in lines:
        typer.echo(line)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no events matched"
    typer.echo(("dry run: " if dry_run else "replayed: ") + summary)


def _line(event_id: int, key: str, result: Replayed) -> str:
    return f"{event_id:>8}  {result.outcome:<11} {key}  {result.detail}".rstrip()
