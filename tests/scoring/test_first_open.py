"""An email's first open is kept on the message (messages.first_open_at) whenever its
status_history is written, and the lead features count an open from it: the first 'opened'
or 'clicked' webhook by receipt, as when the history was parsed at every read."""

from __future__ import annotations

import re
from datetime import timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from app.core.clock import ManualClock
from app.core.settings import Settings
from app.jobs.bootstrap import Context
from tests.conftest import make_settings
from tests.scoring import helpers as h
from tests.webhooks.helpers import (
    PUBLIC,
    RESEND_SECRET,
    ROOT,
    Db,
    at,
    client,
    fixture,
    replay,
    seed_lead,
    sent_email,
)

ANA = "ana.lima@example.org"
ANA_EMAIL_ID = "4f1e2d3c-6b5a-4978-8a9b-0c1d2e3f4a5b"
SECOND = timedelta(seconds=1)
PARSED = (
    "(select min((x->>'at')::timestamptz) from jsonb_array_elements(status_history) x"
    " where x->>'status' in ('opened', 'clicked'))"
)
MIGRATION = "supabase/migrations/20261210120000_first_open.sql"


@pytest.fixture
def settings() -> Settings:
    return make_settings(public_base_url=PUBLIC, resend_webhook_secret=RESEND_SECRET)


@pytest.fixture
def db(database_dsn: str) -> Db:
    return Db(database_dsn)


async def test_an_open_counts_from_the_first_open_webhook_received(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    delivered = at(fixture("resend", "email_delivered.json")["signing"]["verify_at"])
    clock.set(delivered - timedelta(minutes=10))  # sent ten minutes before its delivery
    lead_id = await seed_lead(ctx, db, email=ANA, name="Ana")
    message_id = await sent_email(ctx, lead_id, ANA, ANA_EMAIL_ID, "e1")
    seen = {}
    async with client(ctx) as http:
        # delivered, then the click's webhook, then the open's: the open was received first
        # by its own clock (its request came at an earlier instant than the click's)
        for name in ("email_delivered", "email_clicked", "email_opened"):
            data = fixture("resend", f"{name}.json")
            clock.set(at(data["signing"]["verify_at"]))
            seen[name] = clock.now()
            response = await replay(http, data)
            assert response.status_code == 200 and response.json() == {"duplicate": False}
            row = db.one(f"select first_open_at, {PARSED} parsed from messages where id = %s",
                         (message_id,))  # fmt: skip
            assert row["first_open_at"] == row["parsed"]
    first = min(seen["email_clicked"], seen["email_opened"])
    assert db.one("select first_open_at from messages")["first_open_at"] == first
    now = max(seen.values())
    before, after = await ctx.repos.scoring.features(
        now, lead_ids=[lead_id, lead_id], cutoffs=[first - SECOND, first]
    )
    assert (before["emails_sent"], before["emails_opened"]) == (1, 0)
    assert (after["emails_sent"], after["emails_opened"]) == (1, 1)
    assert after["days_since_engagement"] == 0.0


async def test_every_write_of_the_history_keeps_the_first_open(
    ctx: Context, db: Db, clock: ManualClock
) -> None:
    now = clock.now()
    lead = await h.lead(ctx, 1, now - 3 * timedelta(days=1))
    sent = now - timedelta(days=2)
    opened = await h.message(ctx, lead, "email", sent, "opened", seen_at=sent + timedelta(hours=5))
    plain = await h.message(ctx, lead, "email", sent, "delivered")
    rows = {r["id"]: r["first_open_at"] for r in db.rows("select id, first_open_at from messages")}
    assert rows == {opened: sent + timedelta(hours=5), plain: None}  # written with the row
    steps = [  # (statement, params, first_open_at of `opened` after it)
        ("update messages set status_history = status_history || %s where id = %s",
         (Jsonb({"status": "clicked", "at": (sent + timedelta(hours=1)).isoformat()}), opened),
         sent + timedelta(hours=1)),  # an earlier receipt appended: the first open moves
        ("update messages set status_history = status_history || %s where id = %s",
         (Jsonb({"status": "opened", "at": (sent + timedelta(hours=9)).isoformat()}), opened),
         sent + timedelta(hours=1)),  # a later one does not
        ("update messages set first_open_at = %s where id = %s", (now, opened),
         sent + timedelta(hours=1)),  # written directly: set from the history again
        ("update messages set status_history = '[]' where id = %s", (opened,), None),
    ]  # fmt: skip
    for statement, params, expected in steps:
        db.rows(statement + " returning id", params)
        assert db.one("select first_open_at from messages where id = %s", (opened,)) == {
            "first_open_at": expected
        }
    delivered = Jsonb({"status": "delivered", "at": now.isoformat()})
    db.rows(
        "update messages set status_history = status_history || %s where id = %s returning id",
        (delivered, plain),
    )
    assert db.one("select first_open_at from messages where id = %s", (plain,)) == {
        "first_open_at": None
    }


def test_the_migration_sets_the_rows_written_before_it(database_dsn: str) -> None:
    text = (ROOT / MIGRATION).read_text()
    backfill = re.search(r"^update messages m set first_open_at = .*?;$", text, re.S | re.M)
    assert backfill is not None
    with psycopg.connect(database_dsn) as conn:  # one transaction, rolled back
        conn.execute("alter table messages disable trigger messages_first_open")
        lead = conn.execute(
            "insert into leads (name, email) values ('Ana', %s) returning id", (ANA,)
        ).fetchone()
        assert lead is not None
        histories = [
            [],
            [{"status": "delivered", "at": "2026-12-01T10:00:00+00:00"}],
            [{"status": "opened", "at": "2026-12-01T12:00:00+00:00"},
             {"status": "clicked", "at": "2026-12-01T11:00:00+00:00"}],
            [{"status": "clicked", "at": "2026-12-02T09:30:00-05:00"}],
        ]  # fmt: skip
        for n, history in enumerate(histories):
            conn.execute(
                "insert into messages (idempotency_key, lead_id, channel, provider,"
                " to_address, status_history) values (%s, %s, 'email', 'resend', %s, %s)",
                (f"k{n}", lead[0], ANA, Jsonb(history)),
            )
        assert conn.execute("select count(first_open_at) from messages").fetchone() == (0,)
        conn.execute(backfill.group(0))
        got = conn.execute(
            f"select first_open_at is not distinct from {PARSED}, first_open_at is null"
            " from messages order by id"
        ).fetchall()
        assert got == [(True, True), (True, True), (True, False), (True, False)]
        conn.rollback()
