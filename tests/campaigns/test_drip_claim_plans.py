"""How the drip claim's reads are planned (migration 20261211110000): the due select by
enrollments_due_idx whatever the planner estimates, and the batch's recent attempts in one
generic plan per connection that reads by lead, which stays right as the outbox grows."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def _settings(conn: psycopg.Connection, name: str) -> tuple[str, list[str]]:
    row = conn.execute(
        "select l.lanname, coalesce(p.proconfig, '{}') from pg_proc p"
        " join pg_language l on l.oid = p.prolang where p.oid = %s::regprocedure",
        (name,),
    ).fetchone()
    assert row is not None
    return row[0], list(row[1])


def test_the_claim_and_the_recent_attempts_read_by_key(database_dsn: str) -> None:
    """The due select read next_run_at's estimate from the last ANALYZE, not the instant of
    the claim: on day 28 of a simulated month it read every enrollment
    (bench/drip_claim_parts.py). The claim now never scans a table whole; the recent attempts
    are plpgsql (planned once per connection, not at every claim) with a plan that reads by
    lead."""
    with psycopg.connect(database_dsn) as conn:
        lang, config = _settings(conn, "claim_due_steps(text, integer, integer, timestamptz)")
        assert lang == "plpgsql" and "enable_seqscan=off" in config
        lang, config = _settings(conn, "internal.leads_recent_attempts(bigint[], timestamptz)")
        assert lang == "plpgsql"
        assert {"plan_cache_mode=force_generic_plan", "enable_seqscan=off"} <= set(config)


def test_attempts_planned_on_an_empty_outbox_are_found_once_it_has_grown(
    database_dsn: str,
) -> None:
    """A worker's connection plans the recent attempts at its first claim, when the outbox
    may be empty (a fresh deployment's first run), and keeps that plan: texts and calls
    written afterwards (a month's worth, the tables analysed) are still every lead's attempts
    in the 24 h before, as the single-lead rule counts them."""
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(
            "insert into leads (name, phone, state, timezone, source)"
            " select 'Lead ' || g, '+1212555' || lpad(g::text, 4, '0'), 'NY',"
            " 'America/New_York', 'web_form' from generate_series(1, 60) g"
        )
        leads = [r[0] for r in conn.execute("select id from leads order by id").fetchall()]
        recent = "select lead_id, attempts from internal.leads_recent_attempts(%s, %s)"
        for _ in range(3):  # planned (and kept) while there is nothing to find
            assert conn.execute(recent, (leads, NOW)).fetchall() == []
        conn.execute(
            "insert into messages (idempotency_key, lead_id, channel, kind, provider,"
            " to_address, status, claimed_at, sent_at)"
            " select 'text:' || l.id || ':' || g, l.id, 'sms', 'marketing', 'twilio', l.phone,"
            " 'sent', %(now)s - g * interval '5 hours', %(now)s - g * interval '5 hours'"
            " from leads l cross join generate_series(1, 8) g",
            {"now": NOW},
        )
        conn.execute(
            "insert into calls (idempotency_key, lead_id, to_number, status, claimed_at,"
            " placed_at) select 'call:' || l.id, l.id, l.phone, 'ended',"
            " %(now)s - interval '3 hours', %(now)s - interval '2 hours'"
            " from leads l where l.id %% 3 = 0",
            {"now": NOW},
        )
        conn.execute("analyze messages")
        conn.execute("analyze calls")
        batch = {r[0]: r[1] for r in conn.execute(recent, (leads, NOW)).fetchall()}
        assert set(batch) == set(leads)
        for lead in leads:
            single = conn.execute(
                "select internal.lead_recent_attempts(%s, %s)", (lead, NOW)
            ).fetchone()
            assert single is not None and batch[lead] == single[0]
            # texts 5, 10, 15, 20 h before (25 h and more: outside); a call 2 h before
            assert len(batch[lead]) == (5 if lead % 3 == 0 else 4)
