"""The busiest webhooks' store functions, a git ref's against this tree's, in one database.

The simulated month posts ~38,000 webhooks, each one call of a store function (Twilio status
callbacks, Resend delivery events) and, after a missed call's end-of-call report, the rescue
text's `webhook_enqueue_rescue`. This script migrates one embedded Postgres database with
this tree's migrations and adds `--ref`'s definitions of those functions beside them under
a `before_` prefix (`git show <ref>:supabase/schemas/04_webhooks.sql`; nothing in the
repository changes): only the functions differ, whatever else the tree changed, and both
run on the same tables, the same connection and the same machine load. It seeds leads with
a sent text and a sent email each and calls both versions as the app calls them, in
alternating blocks of `--block` calls (ABBA). Every call stores and applies a fresh event:
a status callback or delivery event moves its own message from sent to delivered; each
rescue is a new lead's first.
Per function and version: the backend's CPU a call (/proc, Linux: not inflated by the
machine's load) and Postgres's own time a call (`track_functions`: the function and all it
calls, wall time inside the backend), over all the blocks; then the backend CPU's
after/before per quarter of the run.

    .venv/bin/python bench/webhook_store_ab.py [--ref HEAD] [--calls 4000] [--block 100]

Not a test: it prints measured figures (bench/RESULTS.md "Webhook ingest").
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb
from sql_ab import quarters, ref_functions, scratch_database, server_ms
from webhook_ingest import cpu_seconds

SCHEMA = "supabase/schemas/04_webhooks.sql"
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
FUNCTIONS = ("webhook_twilio_status", "webhook_resend_event", "webhook_enqueue_rescue")
SIDES = {"before": "before_", "after": ""}  # the function name's prefix of each version
Call = Callable[[psycopg.Connection, str, int], None]


def definitions(ref: str) -> str:
    """`ref`'s statements of FUNCTIONS, renamed `before_<name>`."""
    return ref_functions(ref, SCHEMA, {name: f"before_{name}" for name in FUNCTIONS})


def seed(conn: psycopg.Connection, n: int) -> None:
    """`n` leads, each with a sent text (Twilio sid `SM<i>`, message id i) and a sent email
    (`em-<i>`)."""
    conn.execute(
        "insert into leads (name, phone, email, state, timezone) select 'Lead ' || g,"
        " '+1415' || lpad(g::text, 7, '0'), 'l' || g || '@example.org', 'CA',"
        " 'America/Los_Angeles' from generate_series(1, %s) g", (n,))  # fmt: skip
    for channel, provider, prefix in (("sms", "twilio", "SM"), ("email", "resend", "em-")):
        conn.execute(
            "insert into messages (idempotency_key, lead_id, channel, kind, provider,"
            " provider_id, to_address, status, payload, status_history, created_at, claimed_at,"
            " sent_at, updated_at) select %(c)s || ':' || g, g, %(c)s, 'marketing', %(p)s,"
            " %(x)s || g, case %(c)s when 'sms' then '+1415' || lpad(g::text, 7, '0')"
            " else 'l' || g || '@example.org' end, 'sent', jsonb_build_object('body',"
            " repeat('x', 300)), '[{\"status\": \"sending\"}, {\"status\": \"sent\"}]',"
            " %(t)s, %(t)s, %(t)s, %(t)s from generate_series(1, %(n)s) g",
            {"c": channel, "p": provider, "x": prefix, "t": NOW, "n": n},
        )  # fmt: skip
    conn.execute("vacuum analyze")


def twilio_status(conn: psycopg.Connection, prefix: str, i: int) -> None:
    params = {"MessageSid": f"SM{i}", "MessageStatus": "delivered", "To": f"+1415{i:07d}",
              "From": "+15005550006", "AccountSid": "AC_BENCH"}  # fmt: skip
    conn.execute(
        f"select * from {prefix}webhook_twilio_status(p_dedupe_key => %s, p_payload => %s,"
        " p_outbox_id => %s, p_message_sid => %s, p_twilio_status => 'delivered',"
        " p_status => 'delivered', p_error_code => null, p_permanent => false,"
        " p_opt_out => false, p_now => %s)",
        (f"twilio:SM{i}:delivered", Jsonb(params), i, f"SM{i}", NOW),
    )


def resend_event(conn: psycopg.Connection, prefix: str, i: int) -> None:
    payload = {"type": "email.delivered", "created_at": "2026-12-01T15:00:00.000Z",
               "data": {"email_id": f"em-{i}", "to": [f"l{i}@example.org"],
                        "created_at": "2026-12-01T14:59:00.000Z"}}  # fmt: skip
    conn.execute(
        f"select * from {prefix}webhook_resend_event(p_dedupe_key => %s, p_event_type =>"
        " 'email.delivered', p_payload => %s, p_email_id => %s, p_outbox_id => null,"
        " p_address => %s, p_status => 'delivered', p_suppress => null, p_click => null,"
        " p_now => %s)",
        (f"resend:msg_{i}", Jsonb(payload), f"em-{i}", f"l{i}@example.org", NOW),
    )


def rescue(conn: psycopg.Connection, prefix: str, i: int) -> None:
    body = "Sorry we missed you! Book: https://hooks.example.com/l/abc. Reply STOP to opt out."
    message = {"idempotency_key": f"rescue:{i}:{i}", "provider": "twilio",
               "payload": {"body": body, "not_before": NOW.isoformat()}}  # fmt: skip
    conn.execute(
        f"select * from {prefix}webhook_enqueue_rescue(p_lead_id => %s, p_message => %s,"
        " p_now => %s)",
        (i, Jsonb(message), NOW),
    )


CALLS: dict[str, Call] = dict(zip(FUNCTIONS, (twilio_status, resend_event, rescue), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", default="HEAD", help="the 'before' code (a git ref)")
    parser.add_argument("--calls", type=int, default=4000, help="calls of each version")
    parser.add_argument("--block", type=int, default=100, help="calls in a row of one version")
    args = parser.parse_args()
    with scratch_database("nightshift-store-ab-") as conn:
        conn.execute(definitions(args.ref).encode())
        seed(conn, 2 * args.calls + 2)
        conn.execute("set track_functions = 'all'")
        run(conn, args)


def run(conn: psycopg.Connection, args: argparse.Namespace) -> None:
    """Both versions in alternating blocks; prints the comparison."""
    backend, n = [conn.info.backend_pid], 2 * args.calls + 1
    for prefix in SIDES.values():  # warm: plans cached, as on a pooled connection
        for call in CALLS.values():
            call(conn, prefix, n)
            n += 1  # a new lead's rescue, an unknown message's event
    cpu: dict[tuple[str, str], list[float]] = {}
    server0 = server_ms(conn)
    i, blocks = 1, args.calls // args.block
    for b in range(blocks):
        sides = list(SIDES.items()) if b % 2 == 0 else list(reversed(SIDES.items()))
        for side, prefix in sides:
            for name, call in CALLS.items():
                cpu0 = cpu_seconds(backend)
                for j in range(i, i + args.block):
                    call(conn, prefix, j)
                cpu.setdefault((side, name), []).append(cpu_seconds(backend) - cpu0)
            i += args.block
    spent = server_ms(conn)
    print(f"{blocks * args.block} calls of each version in blocks of {args.block}, "
          f"load {os.getloadavg()[0]:.2f} at the end; ms a call: backend CPU / Postgres time "
          "(track_functions)")  # fmt: skip
    for name in FUNCTIONS:
        line = [name.ljust(24)]
        for side, prefix in SIDES.items():
            total = spent[prefix + name] - server0.get(prefix + name, 0.0)
            ms = 1000 * sum(cpu[side, name]) / (blocks * args.block)
            line.append(f"{side} {ms:.3f} / {total / (blocks * args.block):.3f}")
        line.append(quarters(cpu, name, blocks))
        print("  ".join(line))


if __name__ == "__main__":
    main()
