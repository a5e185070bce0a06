"""`nightshift insights ...` and `nightshift export training` against a configured database."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb
from typer.testing import CliRunner

from app.cli import cli
from tests.test_cli import configured  # noqa: F401  (the fixture)


def _seed(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        lead = conn.execute(
            "insert into leads (name, phone, created_at) values "
            "('Dana W', '+15125550123', now() - interval '6 hours') "
            "returning id"
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "insert into messages (idempotency_key, lead_id, channel, provider, "
            "to_address, status, sent_at) values ('k1', %s, 'sms', 'dryrun', "
            "'+15125550123', 'delivered', now() - interval '5 hours')",
            (lead,),
        )
        conn.execute(  # she clicked the link in the text
            "insert into click_events (token, lead_id, url, clicked_at) values "
            "('t1', %s, 'https://example.com', now() - interval '3 hours')",
            (lead,),
        )
        conn.execute(
            "insert into webhook_events (provider, dedupe_key, event_type, payload, "
            "received_at) values ('twilio', 'r1', 'sms.reply', %s, "
            "now() - interval '4 hours')",
            (Jsonb({"From": "+15125550123"}),),
        )
        conn.execute(
            "insert into calls (idempotency_key, lead_id, to_number, status, outcome, "
            "ended_at, started_at, placed_at, report_received_at) values ('c1', %s, "
            "'+15125550123', 'ended', 'answered', now() - interval '2 hours', "
            "now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours')",
            (lead,),
        )


def test_insights_after_a_growth_run(configured: str, tmp_path: Path) -> None:  # noqa: F811
    _seed(configured)
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "growth"])
    assert ran.exit_code == 0, ran.output
    scores = runner.invoke(cli, ["insights", "scores"])
    assert scores.exit_code == 0, scores.output
    assert "prior scoring (v1): 0/200 outcomes, 0/20 bookings needed to train" in scores.output
    assert "HOT" in scores.output and "Dana W" in scores.output
    assert "replied by SMS today" in scores.output
    timing = runner.invoke(cli, ["insights", "timing"])
    assert timing.exit_code == 0 and "answer" in timing.output
    assert runner.invoke(cli, ["insights", "calls"]).exit_code == 0
    assert runner.invoke(cli, ["insights", "variants"]).exit_code == 0
    assert runner.invoke(cli, ["insights", "failures"]).exit_code == 0
    out = tmp_path / "training"
    export = runner.invoke(cli, ["export", "training", "--out", str(out)])
    assert export.exit_code == 0, export.output
    assert "wrote 0 booked call(s)" in export.output
    assert (out / "call_handling_playbook.md").exists()
    assert (out / "objection_responses.md").exists()
