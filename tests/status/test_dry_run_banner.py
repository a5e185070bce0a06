"""While any provider is a dry run, the status page and `nightshift status` say so first:
an owner looking at a funnel of "sent" texts must know nothing really went out."""

from __future__ import annotations

from rich.console import Console

from app.cli.status import print_sections
from app.jobs.bootstrap import Context
from app.status.data import collect
from app.status.render import page


async def test_dry_run_banner_names_the_dry_channels(ctx: Context) -> None:
    snap = await collect(ctx)  # the test graph has no provider keys: every port is dry
    assert snap["dry_run"] == ["email", "sms", "calls"]
    html = page(snap, "Acme HVAC")
    assert "<strong>DRY RUN</strong>: email, sms, calls: nothing is really sent" in html
    console = Console(record=True, width=120)
    print_sections(snap, console)
    assert console.export_text().startswith("DRY RUN: email, sms, calls: nothing is really sent")


async def test_no_banner_when_everything_really_sends(ctx: Context) -> None:
    snap = {**await collect(ctx), "dry_run": []}
    assert "DRY RUN" not in page(snap, "Acme HVAC")
