"""`nightshift webhooks replay` (issue 15 item 3): stored events re-applied through the live
functions after a fix; a second replay changes nothing; --dry-run prints what would be
applied; what nothing applies is listed as skipped (calls and bookings:
test_replay_calls.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.settings import Settings, get_settings
from app.jobs.bootstrap import Context
from app.webhooks.replay import replay_event
from tests.webhooks.helpers import (
    Db,
    client,
    enqueue_sms,
    fixture,
    post_vapi,
    replay,
    seed_lead,
    vapi_message,
)

ROOT = Path(__file__).resolve().parents[2]
SID = "SM9f1b3d5f7b9d1f3b5d7f9b1d3f5b7d9f"  # the 30007 fixture's message
PATIENT = "+14155550199"


@pytest.fixture
def cli_env(database_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line on the test database (dry-run providers asked for), no .env."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", database_dsn)
    monkeypatch.setenv("NIGHTSHIFT_DRY_RUN", "1")
    monkeypatch.setenv("SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(*args: str) -> str:
    """The command in a thread: it runs its own event loop, as from a shell."""

    def invoke() -> str:
        result = CliRunner().invoke(cli, ["webhooks", "replay", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    return await asyncio.to_thread(invoke)


def snapshot(db: Db) -> dict[str, Any]:
    tables = ("messages", "webhook_events", "leads", "suppressions", "calls")
    return {table: db.rows(f"select * from {table} order by 1") for table in tables}


async def callback_before_its_send_was_recorded(ctx: Context, db: Db) -> int:
    """Twilio's undelivered/30007 callback arrived while our send was still unrecorded (the
    POST timed out: ambiguous): no outbox row had the MessageSid, so it was stored, ignored.
    The next drip tick reconciled the send and recorded the sid."""
    lead_id = await seed_lead(ctx, db, phone=PATIENT, name="Rosa")
    outbox_id = await enqueue_sms(ctx, lead_id, PATIENT, "recall:rosa:1")
    async with client(ctx) as http:
        assert (
            await replay(http, fixture("twilio", "status_undelivered_30007.json"))
        ).status_code == 200
    event = db.one("select status, error from webhook_events where dedupe_key = %s",
                   (f"twilio:{SID}:undelivered",))  # fmt: skip
    assert event == {"status": "ignored", "error": "no outbox message for this callback"}
    await ctx.repos.outbox.claim_message(outbox_id, ctx.clock.now())
    await ctx.repos.outbox.record_message_sent(outbox_id, "twilio", SID, ctx.clock.now())
    return outbox_id


async def test_replay_applies_an_ignored_callback_and_a_second_replay_changes_nothing(
    ctx: Context, db: Db, cli_env: None
) -> None:
    outbox_id = await callback_before_its_send_was_recorded(ctx, db)

    preview = await run("--kind", "twilio", "--dry-run")
    assert f"would_apply twilio:{SID}:undelivered" in preview
    assert "dry run: would_apply 1" in preview
    assert db.one("select status from messages where id = %s", (outbox_id,))["status"] == "sent"

    assert "replayed: applied 1" in await run("--kind", "twilio")
    text = db.one("select status, error_code from messages where id = %s", (outbox_id,))
    assert text == {"status": "undelivered", "error_code": "30007"}  # the guard counts it now
    stored = db.one("select status from webhook_events where dedupe_key = %s",
                    (f"replay:twilio:{SID}:undelivered",))  # fmt: skip
    assert stored == {"status": "processed"}

    before = snapshot(db)
    assert "replayed: duplicate 1" in await run("--kind", "twilio")
    assert snapshot(db) == before


async def test_processed_events_are_replayed_only_when_asked_and_only_once(
    ctx: Context, db: Db, cli_env: None
) -> None:
    lead_id = await seed_lead(ctx, db, phone=PATIENT, name="Rosa")
    async with client(ctx) as http:
        assert (await replay(http, fixture("twilio", "inbound_sms_stop.json"))).status_code == 200
    assert "no events matched" in await run()  # applied already: nothing to do by default

    first = await run("--include-processed", "--kind", "sms.stop")
    assert "replayed: applied 1" in first
    lead = db.one("select sms_opted_out_at from leads where id = %s", (lead_id,))
    assert lead["sms_opted_out_at"] is not None
    before = snapshot(db)
    assert "replayed: duplicate 1" in await run("--include-processed", "--kind", "sms.stop")
    assert snapshot(db) == before


async def test_events_nothing_applies_are_listed_as_skipped(
    ctx: Context, db: Db, cli_env: None
) -> None:
    async with client(ctx) as http:
        assert (await post_vapi(http, vapi_message("09-hang.json"))).status_code == 200
    out = await run("--include-processed", "--kind", "vapi", "--dry-run")
    assert "skipped     vapi:" in out and "nothing applies them" in out
    assert "dry run: skipped 1" in out


async def test_one_event_by_id_and_since_filters(ctx: Context, db: Db, cli_env: None) -> None:
    await callback_before_its_send_was_recorded(ctx, db)
    (event,) = await ctx.repos.webhooks.events_for_replay(kind="sms.status")
    assert "would_apply 1" in await run("--id", str(event.id), "--dry-run")
    assert "no events matched" in await run("--id", str(event.id + 1000), "--dry-run")
    assert "no events matched" in await run("--since", "2999-01-01", "--dry-run")
    assert (await replay_event(ctx, event, dry_run=True)).outcome == "would_apply"
