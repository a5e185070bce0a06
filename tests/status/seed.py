"""A hand-built day of activity for the status page and digest tests (direct inserts)."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

SECRET_NAME = "Quinn Privatelead"
SECRET_PHONE = "+13125550177"


def seed(dsn: str, day_start: datetime) -> None:
    """Activity inside [day_start, day_start + 24 h), plus one lead the day before."""
    at = day_start + timedelta(hours=10)
    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute(
            "insert into leads (name, phone, email, status, created_at, score, hot_at) values"
            " (%s, %s, 'q@example.com', 'booked', %s, 81, %s),"
            " ('B', '+13125550178', null, 'engaged', %s, 65, %s),"
            " ('C', '+13125550179', null, 'contacted', %s, null, null),"
            " ('Old', '+13125550180', null, 'new', %s, null, null) returning id",
            (SECRET_NAME, SECRET_PHONE, at, at, at, at, at, day_start - timedelta(hours=2)),
        ).fetchall()]  # fmt: skip
        conn.execute("insert into campaigns (slug, name) values ('spring', 'Spring')")
        campaign = conn.execute("select id from campaigns where slug = 'spring'").fetchone()
        assert campaign is not None
        for n, (channel, status, code, kind) in enumerate([
            ("email", "delivered", None, "marketing"), ("email", "bounced", None, "marketing"),
            ("sms", "undelivered", "30007", "marketing"), ("email", "sent", None, "transactional"),
        ]):  # fmt: skip
            conn.execute(
                "insert into messages (idempotency_key, lead_id, campaign_id, channel, kind,"
                " provider, to_address, status, error_code, created_at, sent_at)"
                " values (%s, %s, %s, %s, %s, 'dryrun', 'x', %s, %s, %s, %s)",
                (f"seed-{n}", ids[1], campaign[0], channel, kind, status, code, at, at),
            )
        for n, outcome in enumerate(["booked", "no_answer", "no_answer"]):
            conn.execute(
                "insert into calls (idempotency_key, lead_id, to_number, status, outcome,"
                " created_at) values (%s, %s, '+13125550178', 'ended', %s, %s)",
                (f"call-{n}", ids[1], outcome, at + timedelta(minutes=n)),
            )
        for n in range(2):
            conn.execute(
                "insert into webhook_events (provider, dedupe_key, event_type, payload,"
                " received_at) values ('twilio', %s, 'sms.reply', '{}', %s)",
                (f"r{n}", at),
            )
        conn.execute(
            "insert into appointments (lead_id, starts_at, ends_at, status, created_at,"
            " no_show_at) values (%s, %s, %s, 'no_show', %s, %s)",
            (ids[0], at, at + timedelta(hours=1), at, at + timedelta(hours=2)),
        )
        conn.execute("insert into suppressions (channel, address, reason, created_at)"
                     " values ('sms', '+13125550179', 'stop', %s)", (at,))  # fmt: skip
        conn.execute(
            "insert into alerts (key, severity, code, title, first_seen_at, last_seen_at,"
            " status, resolved_at) values ('k1', 'critical', 'A1B2', 'drip is late', %s, %s,"
            " 'firing', null), ('k2', 'warning', 'C3D4', 'resend slow', %s, %s, 'resolved', %s)",
            (at, at, at, at, at + timedelta(hours=1)),
        )
        conn.execute("insert into health_checks (target, ok, latency_ms, checked_at)"
                     " values ('twilio', true, 120, %s), ('resend', false, 900, %s)",
                     (at, at))  # fmt: skip
