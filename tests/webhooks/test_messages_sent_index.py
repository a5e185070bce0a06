"""messages' one index of sends by time (issue 19, migration 20261210150000_messages_sent_idx).

A status callback changes `status`, which is indexed, so its update of the message is never
HOT: it writes an entry in every index of the table, as every message written does. Two
indexes covered the send time (`messages_sent_provider_idx` for the guardian's
callback_gaps, `messages_sent_lead_idx` for the console's contacted); one does now. What they
served still holds: each reader of a window of sends finds it (planned with sequential scans
off, on the test database), the console's contacted from the index alone, and the readers'
answers count every send of the window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import query

AT = "'2026-12-01 12:00+00'::timestamptz"
READS = {  # each reader's statement of a window of sends, with literal values
    "callback_gaps": (
        f"select m.provider, count(*) from messages m where m.provider in ('twilio', 'resend')"
        f" and m.sent_at >= {AT} - interval '3 hours' and m.sent_at < {AT}"
        f" and m.created_at >= {AT} - interval '3 hours' - interval '7 days' group by m.provider"
    ),
    "console contacted": (
        f"select m.lead_id, m.sent_at from messages m where m.lead_id is not null"
        f" and m.sent_at >= {AT} - interval '1 day' and m.sent_at <= {AT}"
        f" and m.provider <> 'dryrun' and m.status <> 'dry_run'"
    ),
    "digest's transactional": (
        f"select count(*) from messages where sent_at >= {AT} - interval '1 day'"
        f" and sent_at < {AT} and kind <> 'marketing'"
    ),
    "variant arms": (
        f"select m.id from messages m where m.sent_at >= {AT} - interval '1 hour'"
        f" and m.sent_at <= {AT} and m.step_id is not null and m.payload ? 'variant'"
    ),
}


async def test_one_index_covers_the_send_time(ctx: Context) -> None:
    rows = await query(ctx, "select indexname, indexdef from pg_indexes where tablename = %s",
                       "messages")  # fmt: skip
    defs = {r["indexname"]: r["indexdef"].split(" USING ")[1] for r in rows}
    assert defs["messages_sent_idx"] == (
        "btree (sent_at) INCLUDE (lead_id, provider, status) WHERE (sent_at IS NOT NULL)"
    )
    assert "messages_sent_provider_idx" not in defs
    assert "messages_sent_lead_idx" not in defs
    assert [name for name, d in defs.items() if d.startswith("btree (sent_at)")] == [
        "messages_sent_idx"
    ]


async def test_every_reader_of_a_window_of_sends_reads_it(ctx: Context) -> None:
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn, conn.transaction():
        await conn.execute("set local enable_seqscan = off")
        for reader, read in READS.items():
            cursor = await conn.execute(f"explain {read}")
            plan = "\n".join(r[0] for r in await cursor.fetchall())
            assert "messages_sent_idx" in plan, (reader, plan)
            if reader == "console contacted":
                assert "Index Only Scan using messages_sent_idx" in plan, plan


async def test_callback_gaps_counts_every_send_of_the_window(ctx: Context) -> None:
    """Sends with and without a lead, both providers, inside and outside the window."""
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    sends = [  # (provider, channel, minutes before `at`, with a lead)
        ("twilio", "sms", 30, True), ("twilio", "sms", 90, False), ("resend", "email", 10, True),
        ("resend", "email", 200, True), ("twilio", "sms", -5, True),
    ]  # fmt: skip
    [lead] = await query(
        ctx, "insert into leads (phone, email) values ('+14155550123', 'a@example.com')"
        " returning id",
    )  # fmt: skip
    for n, (provider, channel, minutes, with_lead) in enumerate(sends):
        sent = at - timedelta(minutes=minutes)
        await query(
            ctx,
            "insert into messages (idempotency_key, lead_id, channel, provider, to_address,"
            " status, created_at, sent_at) values (%s, %s, %s, %s, 'x', 'sent', %s, %s)"
            " returning id",
            f"sent-idx:{n}", lead["id"] if with_lead else None, channel, provider, sent, sent,
        )  # fmt: skip
    gaps = await ctx.repos.alerts.callback_gaps(at - timedelta(hours=3), at)
    assert {(g.provider, g.sends) for g in gaps} == {("twilio", 2), ("resend", 1)}
