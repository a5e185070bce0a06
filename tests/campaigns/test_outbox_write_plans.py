"""The outbox's write path planned once and by key (issue 19; migration
20261210230000_outbox_write_plans): enqueue_outbox, claim_messages, mark_sending and
record_messages_sent keep one generic plan per connection (force_generic_plan: PL/pgSQL had
planned the claim's and the check's statement again at every call) that reads every table
by its keys even when it was made on an empty outbox (enable_seqscan = off), and
record_messages_sent finds its rows by their primary key instead of joining the results to
a sequential scan of messages.

The answers and the rows written are those of the functions as they were (their earlier
text, created beside them): a drip batch of texts and emails claimed as it is written, one
lead who texts STOP and another whose email is suppressed between the claim and the send,
the last-moment check, the provider's acceptances recorded (one listed twice, one id with no
row), a provider error on another."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from app.core.clock import ManualClock
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from tests.campaigns.helpers import add_leads, query

RECORD_BY_ID = (
    "\n    and m.id = any (array(select (v->>'id')::bigint from jsonb_array_elements(p_results) v))"
)


async def _earlier(conn: AsyncConnection[Any]) -> None:
    """`<name>_before`: each function as it was before the migration (same body; no
    plan_cache_mode nor enable_seqscan; record_messages_sent without its lookup by id)."""
    for name in ("enqueue_outbox", "mark_sending", "claim_messages", "record_messages_sent"):
        cur = await conn.execute(
            "select pg_get_functiondef(p.oid) from pg_proc p where p.proname = %s", (name,)
        )
        row = await cur.fetchone()
        assert row is not None
        text: str = row[0]
        text = text.replace(f"FUNCTION public.{name}(", f"FUNCTION public.{name}_before(", 1)
        text = text.replace(" SET plan_cache_mode TO 'force_generic_plan'\n", "")
        text = text.replace(" SET enable_seqscan TO 'off'\n", "")
        if name == "record_messages_sent":
            assert RECORD_BY_ID in text
            text = text.replace(RECORD_BY_ID, "")
        await conn.execute(text)


def _text(key: str, lead: dict[str, Any]) -> dict[str, Any]:
    return {"idempotency_key": key, "channel": "sms", "provider": "twilio",
            "to_address": lead["phone"], "lead_id": lead["id"], "campaign_id": None,
            "payload": {"body": f"Hi {lead['name']}, time for your tune-up? Reply STOP to"
                        " opt out.", "send_before": "2026-11-27T02:00:00+00:00"}}  # fmt: skip


def _email(key: str, lead: dict[str, Any]) -> dict[str, Any]:
    return {"idempotency_key": key, "channel": "email", "provider": "resend",
            "to_address": lead["email"], "lead_id": lead["id"],
            "payload": {"subject": "Your tune-up", "html": "<p>Book</p>"}}  # fmt: skip


async def _batch(conn: AsyncConnection[Any], side: str, now: Any) -> dict[str, Any]:
    """The drip batch through `side`'s functions ('' or '_before'): what each call answered
    and every messages row afterwards."""
    cur = await conn.execute("select id, name, phone, email from leads order by id")
    leads = [
        dict(zip(("id", "name", "phone", "email"), r, strict=True)) for r in await cur.fetchall()
    ]
    items = [_text(f"drip:{lead['id']}:sms", lead) for lead in leads]
    items += [_email(f"drip:{lead['id']}:email", lead) for lead in leads]
    cur = await conn.execute(
        f"select idempotency_key, id, status, outcome from enqueue_outbox{side}(%s, %s, %s)",
        (Jsonb(items), now, Jsonb({"sms": 2, "email": 2})),
    )
    written = {r[0]: r[1:] for r in await cur.fetchall()}
    key_of = {v[0]: k for k, v in written.items()}  # ids differ between the sides: keys
    queued = [written[i["idempotency_key"]][0] for i in items
              if written[i["idempotency_key"]][1] == "queued"]  # fmt: skip
    cur = await conn.execute(f"select * from claim_messages{side}(%s, 600, %s)", (queued, now))
    claimed = [(r[0], key_of[r[1]["id"]], r[1]["status"]) for r in await cur.fetchall()]
    # between the claim and the send: lead 0 texts STOP, lead 1's email address bounces
    await conn.execute("select outbox_opt_out('sms', %s, %s, 'STOP', %s)",
                       (leads[0]["id"], leads[0]["phone"], now))  # fmt: skip
    await conn.execute("select outbox_opt_out('email', %s, %s, 'bounced', %s)",
                       (leads[1]["id"], leads[1]["email"], now))  # fmt: skip
    sending = sorted(v[0] for v in written.values())
    cur = await conn.execute(f"select id, verdict from mark_sending{side}(%s, %s)", (sending, now))
    verdicts = dict(await cur.fetchall())
    go = [i for i in sending if verdicts[i] == "go"]
    failed, accepted = go[0], go[1:]
    await conn.execute("select record_message_failed(%s, '30003', 'Unreachable handset', false,"
                       " false, null, %s)", (failed, now))  # fmt: skip
    results = [{"id": i, "provider": "twilio", "provider_id": f"SM{key_of[i]}"}
               for i in accepted]  # fmt: skip
    results += [results[0], {"id": 999_999, "provider": "twilio", "provider_id": "SMnone"}]
    cur = await conn.execute(f"select record_messages_sent{side}(%s, %s)", (Jsonb(results), now))
    recorded = (await cur.fetchone() or [None])[0]
    cur = await conn.execute("select to_jsonb(m) - 'id' from messages m order by idempotency_key")
    rows = [r[0] for r in await cur.fetchall()]
    return {"written": {k: v[1:] for k, v in written.items()}, "claimed": claimed,
            "verdicts": {key_of[i]: v for i, v in verdicts.items()}, "recorded": recorded,
            "rows": rows}  # fmt: skip


async def test_the_write_path_keeps_one_plan_by_its_keys(ctx: Context) -> None:
    rows = await query(
        ctx,
        "select proname, proconfig from pg_proc where proname = any (%s)",
        ["mark_sending", "claim_messages", "record_messages_sent"],
    )
    assert len(rows) == 3
    for row in rows:
        assert "plan_cache_mode=force_generic_plan" in row["proconfig"], row["proname"]
        assert "enable_seqscan=off" in row["proconfig"], row["proname"]


async def test_a_drip_batch_writes_the_same_rows_as_before(
    ctx: Context, clock: ManualClock
) -> None:
    await add_leads(ctx, 4)
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    now = clock.now()
    async with pg._pool.connection() as conn:
        await _earlier(conn)
        await conn.commit()
        sides = {}
        for side in ("_before", ""):
            async with conn.transaction(force_rollback=True):
                sides[side] = await _batch(conn, side, now)
    before, after = sides["_before"], sides[""]
    assert after == before
    assert sorted(after["verdicts"].values()) == sorted(["suppressed"] * 2 + ["go"] * 6)
    assert after["recorded"] == 5  # the duplicate once, the id with no row not at all
    statuses = sorted(r["status"] for r in after["rows"])
    assert statuses == ["cancelled", "cancelled", "failed"] + ["sent"] * 5


async def test_the_record_of_a_send_reads_no_other_row(ctx: Context, clock: ManualClock) -> None:
    """With 3,000 messages (a few days of a small business), recording two sends reads them
    by their primary key: no sequential scan of messages, where the join of the results
    (estimated at 100 rows) to messages was a hash of all of it."""
    now = clock.now()
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn:
        await _earlier(conn)
        await conn.execute(
            "insert into messages (idempotency_key, channel, provider, to_address, status,"
            " claimed_at, payload, status_history)"
            " select 'old:' || g, 'sms', 'twilio', '+1212555' || lpad(g::text, 4, '0'),"
            " 'sending', %s, jsonb_build_object('body', repeat('Hi, time for your tune-up? ', 8)),"
            " jsonb_build_array(jsonb_build_object('status', 'sending', 'at', %s))"
            " from generate_series(1, 3000) g",
            (now, now),
        )
        await conn.commit()
        await conn.execute("analyze messages")
        await conn.commit()
        ids = [r[0] for r in await (await conn.execute(
            "select id from messages order by id desc limit 2")).fetchall()]  # fmt: skip
        results = Jsonb([{"id": i, "provider": "twilio", "provider_id": f"SM{i}"} for i in ids])
        scans = {}
        # the new side first: the counts of a transaction not yet reported stay in the
        # session's pending counts, so the earlier side's would show in the next one's
        for side in ("", "_before"):
            async with conn.transaction(force_rollback=True):
                for _ in range(6):  # past PL/pgSQL's first five custom plans
                    async with conn.transaction(force_rollback=True):
                        cur = await conn.execute(
                            f"select record_messages_sent{side}(%s, %s)", (results, now)
                        )
                        assert (await cur.fetchone()) == (2,)
                cur = await conn.execute(
                    "select seq_scan from pg_stat_xact_user_tables where relname = 'messages'"
                )
                scans[side] = (await cur.fetchone() or [None])[0]
    assert scans[""] == 0
    assert scans["_before"] and scans["_before"] > 0
    cur_rows = await query(ctx, "select count(*) n from messages where status = 'sending'")
    assert cur_rows == [{"n": 3000}]


async def test_a_plan_made_on_an_empty_outbox_still_reads_by_key(
    ctx: Context, clock: ManualClock
) -> None:
    """A fresh install: the connection's plans are made while messages is empty and kept
    (until the table's next ANALYZE) while it grows. The last-moment check, the claim and
    the record of a send made on an empty table still read a grown one by key, never all of
    it (enable_seqscan = off: a kept plan of a sequential scan grew with the table)."""
    await add_leads(ctx, 1)
    now = clock.now()
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    calls = (
        "select count(*) from mark_sending(%s, %s)",
        "select count(*) from claim_messages(%s, 600, %s)",
        "select record_messages_sent((select jsonb_agg(jsonb_build_object('id', i,"
        " 'provider', 'twilio', 'provider_id', 'SM' || i)) from unnest(%s::bigint[]) i), %s)",
    )  # fmt: skip
    async with pg._pool.connection() as conn:
        for _ in range(7):  # the plans made on the empty table (and kept)
            for call in calls:
                await conn.execute(call, ([1], now))
        await conn.commit()
        await conn.execute(
            "insert into messages (idempotency_key, lead_id, channel, provider, to_address,"
            " status, claimed_at, payload)"
            " select 'grown:' || g, 1, 'sms', 'twilio', '+12125550000', 'sending', %s,"
            " jsonb_build_object('body', repeat('Hi, time for your tune-up? ', 8))"
            " from generate_series(1, 3000) g",
            (now,),
        )
        await conn.commit()
        ids = [r[0] for r in await (await conn.execute(
            "select id from messages order by id desc limit 2")).fetchall()]  # fmt: skip
        for call in calls:
            async with conn.transaction(force_rollback=True):
                await conn.execute(call, (ids, now))
                cur = await conn.execute(
                    "select seq_scan from pg_stat_xact_user_tables where relname = 'messages'"
                )
                assert (await cur.fetchone()) == (0,), call
