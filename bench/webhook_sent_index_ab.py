"""messages' sends-by-time indexes: the two former ones against the one that replaced them,
on a kept database, in alternating rolled-back transactions.

Before migration 20261210150000_messages_sent_idx, `messages` had two indexes on the send
time: `messages_sent_provider_idx (provider, sent_at) where sent_at is not null` (the
guardian's callback_gaps) and `messages_sent_lead_idx (sent_at) include (lead_id, provider,
status) where lead_id is not null` (the console's contacted). Now one: `messages_sent_idx
(sent_at) include (lead_id, provider, status) where sent_at is not null`. Every message
inserted, and every update that is not HOT (a send, a status callback: `status` is indexed),
writes one index entry fewer.

On `--dsn` (a kept database, bench/history_reads.py `keep`; either layout), in one
connection: each round takes each layout in a transaction (the missing indexes created, the
present ones rebuilt, so neither side carries the month's bloat; rolled back after), in
alternating order, and times:
- the readers of send-time windows at `--at` (default: the database's last send + 1 h), as
  their functions run them with the values (callback_gaps is planned per call, and the
  guardian's `guardian_reads` calls it; the others' statements with literals): ms a read,
  median of `--calls`; and, in the first round, the messages index each plan reads;
- writes (`--writes`): `webhook_twilio_status` on the newest messages with a MessageSid (a
  `read` callback: a fresh dedupe key, history appended) and inserts of copies of the
  newest messages: ms a row, inside the server (clock_timestamp in plpgsql).
Last, per read and write: medians over the rounds, after/before.

    .venv/bin/python bench/webhook_sent_index_ab.py --dsn "host=DIR user=postgres dbname=keep_x" \
        [--at "2026-12-28 05:00+00"] [--rounds 4] [--calls 7] [--writes 2000]

Not a test: it prints measured figures (bench/RESULTS.md). Nothing is kept: every round
rolls back.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from datetime import datetime, timedelta

import psycopg

BEFORE = (
    "drop index if exists messages_sent_idx",
    "create index if not exists messages_sent_provider_idx on messages (provider, sent_at)"
    " where sent_at is not null",
    "create index if not exists messages_sent_lead_idx on messages (sent_at)"
    " include (lead_id, provider, status) where lead_id is not null",
    "reindex index messages_sent_provider_idx",
    "reindex index messages_sent_lead_idx",
)
AFTER = (
    "drop index if exists messages_sent_provider_idx",
    "drop index if exists messages_sent_lead_idx",
    "create index if not exists messages_sent_idx on messages (sent_at)"
    " include (lead_id, provider, status) where sent_at is not null",
    "reindex index messages_sent_idx",
)
LAYOUTS = {"before": BEFORE, "after": AFTER}


def reads(at: datetime) -> dict[str, str]:
    """Each reader's statement at `at`, with its function's values as literals."""
    n = f"'{at.isoformat()}'::timestamptz"

    def window(hours: int) -> str:
        return f"{n} - interval '{hours} hours'"

    def arms(span: str) -> str:
        return (f"select count(*) from (select m.id, m.payload->>'variant' from messages m"
                f" where m.sent_at >= {n} - interval '{span}' and m.sent_at <= {n}"
                f" and m.sent_at <@ tstzrange({n} - interval '{span}', {n})"
                f" and m.step_id is not null and m.payload ? 'variant' and m.status not in"
                f" ('failed', 'bounced', 'cancelled', 'undelivered') offset 0) x")  # fmt: skip

    def contacted(days: int) -> str:
        return (f"select m.lead_id, m.sent_at from messages m where m.lead_id is not null"
                f" and m.sent_at >= {n} - interval '{days} days' and m.sent_at <= {n}"
                f" and m.provider <> 'dryrun' and m.status <> 'dry_run'")  # fmt: skip

    return {
        "callback_gaps 3 h (guardian)":
            f"select * from callback_gaps({window(3)}, {n} - interval '15 minutes')",
        "guardian_reads (a run's reads)":
            f"select guardian_reads({n}, array['drip', 'guardian'], {window(3)},"
            f" {n} - interval '15 minutes', 5, 1)",
        "callback_gaps 48 h":
            f"select * from callback_gaps({window(48)}, {n} - interval '15 minutes')",
        "callback_gaps' sends 3 h":  # its statement, for the plan (the function hides it)
            f"select m.provider, count(*) from messages m where m.provider in ('twilio',"
            f" 'resend') and m.sent_at >= {window(3)} and m.sent_at < {n} - interval"
            f" '15 minutes' and m.created_at >= {window(3)} - interval '7 days'"
            f" group by m.provider",
        "variant_arms 1 h": arms("1 hour"),
        "variant_arms 14 d": arms("14 days"),
        "digest marketing":
            f"select channel, count(*) from messages where sent_at >= {window(24)}"
            f" and sent_at < {n} and kind = 'marketing' group by channel",
        "digest transactional":
            f"select count(*) from messages where sent_at >= {window(24)} and sent_at < {n}"
            f" and kind <> 'marketing'",
        "console contacted 1 d": contacted(1),
        "console contacted 30 d": contacted(29),
    }  # fmt: skip


WRITES = {
    "webhook_twilio_status": """
      do $$ declare t0 timestamptz := clock_timestamp(); r record; begin
        for r in select id, provider_id from messages where provider_id is not null
                  order by id desc limit %(n)s loop
          perform * from webhook_twilio_status('bench-sent-idx:' || r.id,
            jsonb_build_object('MessageSid', r.provider_id, 'MessageStatus', 'read'), r.id,
            r.provider_id, 'read', 'delivered', null, false, false, now());
        end loop;
        perform set_config('bench.ms', (extract(epoch from clock_timestamp() - t0) * 1000
                                       / %(n)s)::text, true);
      end $$""",
    "messages insert": """
      do $$ declare t0 timestamptz := clock_timestamp(); begin
        insert into messages (idempotency_key, lead_id, enrollment_id, campaign_id, step_id,
          channel, kind, provider, provider_id, to_address, status, status_history, payload,
          created_at, claimed_at, sent_at, updated_at)
        select 'bench-sent-idx:' || id, lead_id, enrollment_id, campaign_id, step_id, channel,
               kind, provider, provider_id || ':copy', to_address, status, status_history,
               payload, created_at, claimed_at, sent_at, updated_at
          from messages order by id desc limit %(n)s;
        perform set_config('bench.ms', (extract(epoch from clock_timestamp() - t0) * 1000
                                       / %(n)s)::text, true);
      end $$""",
}
SCAN = re.compile(r"(?:Index Only Scan|Index Scan)(?: Backward)? using (\w+) on messages\b"
                  r"|Bitmap Index Scan on (messages_\w+)|(Seq Scan) on messages\b")  # fmt: skip


def scans(conn: psycopg.Connection, query: str) -> str:
    plan = "\n".join(row[0] for row in conn.execute("explain " + query).fetchall())
    found = sorted({m.group(1) or m.group(2) or "seq scan" for m in SCAN.finditer(plan)})
    return ", ".join(found) or "-"


def layout_round(
    conn: psycopg.Connection, layout: str, queries: dict[str, str], calls: int, writes: int,
    show: bool,
) -> dict[str, float]:  # fmt: skip
    """ms a read and ms a written row under `layout`, in one rolled-back transaction."""
    got: dict[str, float] = {}
    with conn.transaction(force_rollback=True):
        for statement in LAYOUTS[layout]:
            conn.execute(statement)
        conn.execute("analyze messages")
        for name, query in queries.items():
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                conn.execute(query).fetchall()
                times.append((time.perf_counter() - started) * 1e3)
            got[name] = statistics.median(times)
            if show:
                print(f"  {layout:6} {name}: {scans(conn, query)}")
        if writes:
            for name, block in WRITES.items():
                conn.execute(block.replace("%(n)s", str(int(writes))))
                ms = conn.execute("select current_setting('bench.ms')").fetchone()
                got[name] = float(ms[0]) if ms else float("nan")
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--at", type=datetime.fromisoformat)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--calls", type=int, default=7)
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        at = args.at
        if at is None:
            row = conn.execute("select max(sent_at) from messages").fetchone()
            assert row is not None and row[0] is not None, "no sent message in this database"
            at = row[0] + timedelta(hours=1)
        print(f"at {at.isoformat()}; ms a read (median of {args.calls}) / ms a written row")
        queries = reads(at)
        results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for layout in order:
                results[layout].append(
                    layout_round(conn, layout, queries, args.calls, args.writes, show=r == 0)
                )
        for name in results["before"][0]:
            b = statistics.median(x[name] for x in results["before"])
            a = statistics.median(x[name] for x in results["after"])
            print(f"{name:30} before {b:8.3f}  after {a:8.3f}  after/before {a / b:.2f}")


if __name__ == "__main__":
    main()
