"""Functions whose statements were planned again at every call, a git ref's against this tree's.

`claim_call` (every call placed) read the opt-outs through `internal.outbox_is_suppressed`
inside an IF, and `internal.lead_recent_attempts` (end-of-call reports with no answer, busy or
voicemail; the rescue checks) was a SQL function with a FROM: neither is inlined, so their
queries were parsed and planned at every call. This script migrates one embedded
Postgres database with this tree's migrations and adds `--ref`'s definitions beside them under
a `before_` prefix (`git show <ref>:supabase/schemas/03_outbox.sql`; nothing in the
repository changes): both run on the same tables, connection and machine load. It seeds
leads with ai_voice consent, a queued call and a sent text each, and calls both versions as
the app calls them, in alternating blocks of `--block` calls (ABBA): each claim claims its
own queued call, each attempts read reads its own lead.
Per function and version: the backend's CPU a call (/proc, Linux: not inflated by the
machine's load) and Postgres's own time a call (`track_functions`), over all the blocks;
then the backend CPU's after/before per quarter of the run.

    .venv/bin/python bench/sqlplan_ab.py [--ref HEAD] [--calls 3000] [--block 100]

Not a test: it prints measured figures (bench/RESULTS.md "Planned per call").
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from sql_ab import quarters, ref_functions, scratch_database, server_ms
from webhook_ingest import cpu_seconds

SCHEMA = "supabase/schemas/03_outbox.sql"
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
# (name in the schema, name of the 'before' copy, name in pg_stat_user_functions)
FUNCTIONS = {
    "claim_call": ("claim_call", "before_claim_call"),
    "internal.lead_recent_attempts": (
        "lead_recent_attempts",
        "internal.before_lead_recent_attempts",
    ),
}
SIDES = ("before", "after")
Call = Callable[[psycopg.Connection, str, int], None]


def definitions(ref: str) -> str:
    """`ref`'s statements of FUNCTIONS, renamed as their copy."""
    return ref_functions(ref, SCHEMA, {name: copy for name, (_, copy) in FUNCTIONS.items()})


def seed(conn: psycopg.Connection, n: int) -> None:
    """`n` leads (id i), each with ai_voice consent, a queued call (id i) and a text sent an
    hour before NOW."""
    conn.execute(
        "insert into leads (name, phone, email, state, timezone) select 'Lead ' || g,"
        " '+1415' || lpad(g::text, 7, '0'), 'l' || g || '@example.org', 'CA',"
        " 'America/Los_Angeles' from generate_series(1, %s) g", (n,))  # fmt: skip
    conn.execute(
        "insert into consents (lead_id, channel, granted_at, source) select g, 'ai_voice',"
        " %s, 'web_form' from generate_series(1, %s) g", (NOW, n))  # fmt: skip
    conn.execute(
        "insert into calls (idempotency_key, lead_id, to_number, status, created_at,"
        " updated_at) select 'call:' || g, g, '+1415' || lpad(g::text, 7, '0'), 'queued',"
        " %(t)s, %(t)s from generate_series(1, %(n)s) g", {"t": NOW, "n": n})  # fmt: skip
    conn.execute(
        "insert into messages (idempotency_key, lead_id, channel, kind, provider, to_address,"
        " status, payload, created_at, claimed_at, sent_at, updated_at) select 'sms:' || g, g,"
        " 'sms', 'marketing', 'twilio', '+1415' || lpad(g::text, 7, '0'), 'sent', '{}',"
        " %(t)s, %(t)s, %(t)s, %(t)s from generate_series(1, %(n)s) g",
        {"t": NOW.replace(hour=14), "n": n},
    )  # fmt: skip
    conn.execute("vacuum analyze")


def claim(conn: psycopg.Connection, name: str, i: int) -> None:
    conn.execute(f"select * from {name}(%s, p_max_in_flight => 1000000000, p_now => %s)", (i, NOW))


def attempts(conn: psycopg.Connection, name: str, i: int) -> None:
    conn.execute(f"select {name}(%s, %s)", (i, NOW))


CALLS: dict[str, Call] = {
    "claim_call": claim,
    "internal.lead_recent_attempts": attempts,
}


def stat_name(name: str) -> str:
    """pg_stat_user_functions' funcname of a (possibly schema-qualified) function."""
    return name.rsplit(".", 1)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", default="HEAD", help="the 'before' code (a git ref)")
    parser.add_argument("--calls", type=int, default=3000, help="calls of each version")
    parser.add_argument("--block", type=int, default=100, help="calls in a row of one version")
    args = parser.parse_args()
    with scratch_database("nightshift-sqlplan-ab-") as conn:
        conn.execute(definitions(args.ref).encode())
        seed(conn, 2 * args.calls + 10)
        conn.execute("set track_functions = 'all'")
        run(conn, args)


def names(name: str) -> dict[str, str]:
    """The callable name of each side's version of FUNCTIONS[name]."""
    return {"before": FUNCTIONS[name][1], "after": name}


def run(conn: psycopg.Connection, args: argparse.Namespace) -> None:
    """Both versions in alternating blocks; prints the comparison."""
    backend, n = [conn.info.backend_pid], 2 * args.calls + 1
    for name, call in CALLS.items():  # warm: plans cached, as on a pooled connection
        for side in SIDES:
            call(conn, names(name)[side], n)
            n += 1
    cpu: dict[tuple[str, str], list[float]] = {}
    spent: dict[tuple[str, str], float] = {}
    i, blocks = 1, args.calls // args.block
    for b in range(blocks):
        sides = SIDES if b % 2 == 0 else tuple(reversed(SIDES))
        for side in sides:
            for name, call in CALLS.items():
                key = stat_name(names(name)[side])
                server0 = server_ms(conn).get(key, 0.0)
                cpu0 = cpu_seconds(backend)
                for j in range(i, i + args.block):
                    call(conn, names(name)[side], j)
                cpu.setdefault((side, name), []).append(cpu_seconds(backend) - cpu0)
                spent[side, name] = spent.get((side, name), 0.0) + server_ms(conn)[key] - server0
            i += args.block
    count = blocks * args.block
    print(f"{count} calls of each version in blocks of {args.block}, load "
          f"{os.getloadavg()[0]:.2f} at the end; ms a call: backend CPU / Postgres time "
          "(track_functions)")  # fmt: skip
    for name in CALLS:
        line = [name.ljust(30)]
        for side in SIDES:
            ms = 1000 * sum(cpu[side, name]) / count
            line.append(f"{side} {ms:.3f} / {spent[side, name] / count:.3f}")
        line.append(quarters(cpu, name, blocks))
        print("  ".join(line))


if __name__ == "__main__":
    main()
