"""`nightshift status`, run as the operator types it, after a doubtful text held a lead: the
held lead's time reads in BUSINESS_TIMEZONE, the console's verdict line comes first, the DRY
RUN notice is printed once, and the lead's own words (brackets and all) print as written."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from tests.consent.test_release import USER, _text_in, operator, type_in
from tests.webhooks.helpers import Db, seed_campaign, seed_lead

__all__ = ["operator"]  # the fixture, used by name


async def test_status_shows_the_held_lead_in_business_time_with_one_verdict_and_one_notice(
    ctx: Context, db: Db, clock: ManualClock, operator: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("BUSINESS_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("COLUMNS", "250")  # one line per row: the cells are read whole
    await seed_lead(ctx, db, phone=USER, email="ana@example.com", name="Ana")
    await seed_campaign(ctx)
    await _text_in(ctx, "who is this?? [/] how did you get my number")

    result = await type_in(operator, "status")

    assert result.exit_code == 0, result.output
    out = result.output
    held_at = clock.now().astimezone(ZoneInfo("America/Chicago")).strftime("%Y-%m-%d %H:%M %Z")
    [row] = [line for line in out.splitlines() if USER in line]
    assert held_at in row and "CST" in held_at  # not UTC, not an ISO offset
    assert "[/] how did you get my number" in row  # the words as written
    assert out.count("DRY RUN") == 1
    verdicts = [line for line in out.splitlines()
                if line.startswith(("GREEN: ", "AMBER: ", "RED: "))]  # fmt: skip
    assert len(verdicts) == 1, out
    assert out.index(verdicts[0]) < out.index("Jobs")
