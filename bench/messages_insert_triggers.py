"""What the statement triggers on inserts into messages cost, and whether one would cost less.

An outbox insert (the drip's 500 rows) fires three statement triggers with a transition table:
messages_scoring_insert (the leads' scoring marks), messages_status_stale_insert and
messages_variant_stale_insert (the rollups' stale hours). This script migrates one embedded
Postgres database, adds a scratch trigger doing the three jobs in one function (the same
three statements, in the order the three fire), seeds `--leads` leads and times
`--rounds` inserts of `--rows` queued marketing texts under each arrangement in turn (ABBA
order round by round): the three triggers (as in the schema), the one scratch trigger, and
none (the insert alone). Prints the mean wall ms of an insert, the two highest and lowest
of each arrangement dropped. Nothing in the repository changes.

    .venv/bin/python bench/messages_insert_triggers.py [--rows 500] [--rounds 12]

Not a test: it prints measured figures (bench/RESULTS.md, SQLPLAN).
"""

from __future__ import annotations

import argparse
import os
import time

import psycopg
from sql_ab import scratch_database

THREE = ("messages_scoring_insert", "messages_status_stale_insert", "messages_variant_stale_insert")
ONE = "scratch_messages_new_rows_insert"
COMBINED = f"""
create function internal.scratch_messages_new_rows() returns trigger
language plpgsql set search_path = public as $$
begin
  perform internal.scoring_mark(array(select lead_id from new_rows));
  insert into status_stale (hour)
  select distinct date_trunc('hour', n.created_at, 'UTC') from new_rows n
   where n.kind = 'marketing' and n.sent_at is not null;
  insert into variant_stale (hour)
  select distinct date_trunc('hour', n.sent_at, 'UTC') from new_rows n
   where n.step_id is not null and n.sent_at is not null;
  return null;
end
$$;
create trigger {ONE} after insert on messages referencing new table as new_rows
  for each statement execute function internal.scratch_messages_new_rows();
"""
ARRANGEMENTS = ("three", "one", "none")


def arrange(conn: psycopg.Connection, which: str) -> None:
    """Enables the triggers of one arrangement, disables the others."""
    for name in THREE:
        state = "enable" if which == "three" else "disable"
        conn.execute(f"alter table messages {state} trigger {name}")
    conn.execute(f"alter table messages {'enable' if which == 'one' else 'disable'} trigger {ONE}")


def insert(conn: psycopg.Connection, key: int, first: int, rows: int) -> float:
    """Seconds of one insert of `rows` queued texts to leads first.. (keys `k<key>:<lead>`)."""
    started = time.perf_counter()
    conn.execute(
        "insert into messages (idempotency_key, lead_id, channel, kind, provider, to_address,"
        " status, payload, created_at, updated_at) select 'k' || %s || ':' || g, g, 'sms',"
        " 'marketing', 'twilio', '+1415' || lpad(g::text, 7, '0'), 'queued', '{}', now(),"
        " now() from generate_series(%s::int, %s::int) g",
        (key, first, first + rows - 1),
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500, help="rows an insert")
    parser.add_argument("--rounds", type=int, default=12, help="inserts of each arrangement")
    parser.add_argument("--leads", type=int, default=20000)
    args = parser.parse_args()
    with scratch_database("nightshift-msg-triggers-") as conn:
        conn.execute(COMBINED)
        conn.execute(
            "insert into leads (name, phone, state, timezone) select 'Lead ' || g,"
            " '+1415' || lpad(g::text, 7, '0'), 'CA', 'America/Los_Angeles'"
            " from generate_series(1, %s) g", (args.leads,))  # fmt: skip
        conn.execute("vacuum analyze")
        times: dict[str, list[float]] = {which: [] for which in ARRANGEMENTS}
        key, slots = 0, max(args.leads // args.rows, 1)
        for r in range(args.rounds):
            order = ARRANGEMENTS if r % 2 == 0 else tuple(reversed(ARRANGEMENTS))
            for which in order:
                arrange(conn, which)
                first = (key % slots) * args.rows + 1
                times[which].append(insert(conn, key, first, args.rows))
                key += 1
    print(f"{args.rounds} inserts of {args.rows} rows each, load "
          f"{os.getloadavg()[0]:.2f} at the end; mean wall ms an insert:")  # fmt: skip
    for which, spent in times.items():
        kept = sorted(spent)[2:-2] if len(spent) > 4 else spent
        print(f"  {which:5} {1000 * sum(kept) / len(kept):.2f}")


if __name__ == "__main__":
    main()
