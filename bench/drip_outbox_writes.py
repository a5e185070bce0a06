"""What the triggers and foreign keys on `messages` cost the drip's outbox calls, per batch.

One embedded Postgres migrated to this tree, seeded as bench/dispatch.py seeds it (`--leads`
leads, each enrolled in its two-text campaign, sms consent on record), with a few batches of
texts written first (the table not empty). Then, `--rounds` times, for a batch of `--rows`
steps: `enqueue_outbox` (the rows written, all claimed: the drip's first chunk),
`mark_sending` (the last-moment check of them all) and `record_messages_sent` (the
provider's acceptance of each), the write committed, the check and the record in a second
transaction rolled back, then the rows deleted, under three arrangements in shuffled order:
- `all`: as the schema declares them;
- `no rollup row trigger`: messages_rollup_stale_update (07_appointments.sql: a row trigger
  that writes the status page's and the A/B counts' stale hours, one insert each per sent
  row) disabled inside the transactions;
- `replica`: session_replication_role = replica (no trigger fires, no foreign key is
  checked): the statements' own cost.
Prints each call's median ms per arrangement.

    .venv/bin/python bench/drip_outbox_writes.py [--leads 10000] [--rows 500] [--rounds 9]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import psycopg
from dispatch import CAMPAIGN, NOW, SEED
from psycopg.types.json import Jsonb
from sql_ab import scratch_database

from app.campaigns.definition import load_campaign_yaml

ITEMS = """
select jsonb_agg(jsonb_build_object('idempotency_key', 'drip:' || e.id || ':0',
  'channel', 'sms', 'provider', 'twilio', 'to_address', l.phone, 'kind', 'marketing',
  'lead_id', l.id, 'enrollment_id', e.id, 'campaign_id', e.campaign_id, 'step_id', s.id,
  'payload', jsonb_build_object('body', 'Hi Lead, Acme here. Reply STOP to opt out.',
                                'send_before', '2026-11-25T02:00:00+00:00')) order by e.id)
  from enrollments e join leads l on l.id = e.lead_id
  join campaign_steps s on s.campaign_id = e.campaign_id and s.position = e.current_step
 where e.id between %(first)s and %(last)s
"""
ARRANGEMENTS = ("all", "no rollup row trigger", "replica")
CALLS = ("enqueue_outbox", "mark_sending", "record_messages_sent")


def arrange(conn: psycopg.Connection, arrangement: str) -> None:
    """`arrangement` for the rest of the transaction."""
    if arrangement == "replica":
        conn.execute("set local session_replication_role = replica")
    elif arrangement == "no rollup row trigger":
        conn.execute("alter table messages disable trigger messages_rollup_stale_update")


def batch(conn: psycopg.Connection, arrangement: str, first: int, rows: int) -> dict[str, float]:
    """The three calls for enrollments first..first+rows-1 under `arrangement`: seconds
    each. The write is committed (the record is another transaction, as in a drip run: a
    row updated by the transaction that wrote it has its foreign keys checked again), the
    check and the record rolled back, the rows deleted afterwards."""
    spent: dict[str, float] = {}
    items = conn.execute(ITEMS, {"first": first, "last": first + rows - 1}).fetchone()
    assert items is not None
    with conn.transaction():
        arrange(conn, arrangement)
        started = time.perf_counter()
        written = conn.execute(
            "select id from enqueue_outbox(%s, %s, %s)",
            (Jsonb(items[0]), NOW, Jsonb({"sms": rows})),
        ).fetchall()
        spent["enqueue_outbox"] = time.perf_counter() - started
    ids = [r[0] for r in written]
    try:
        with conn.transaction(force_rollback=True):
            arrange(conn, arrangement)
            started = time.perf_counter()
            verdicts = conn.execute(
                "select verdict from mark_sending(%s, %s)", (ids, NOW)
            ).fetchall()
            spent["mark_sending"] = time.perf_counter() - started
            assert {v[0] for v in verdicts} == {"go"}, verdicts[:3]
            results = [{"id": i, "provider": "twilio", "provider_id": f"SM{i:032x}"} for i in ids]
            started = time.perf_counter()
            recorded = conn.execute(
                "select record_messages_sent(%s, %s)", (Jsonb(results), NOW)
            ).fetchone()
            spent["record_messages_sent"] = time.perf_counter() - started
            assert recorded is not None and recorded[0] == len(ids) == rows
    finally:
        conn.execute("delete from messages where id = any (%s)", (ids,))
    return spent


def main(leads: int, rows: int, rounds: int) -> None:
    with scratch_database("nightshift-outbox-writes-") as conn:
        conn.execute(
            "select upsert_campaign(%s, %s)", (Jsonb(load_campaign_yaml(CAMPAIGN).to_row()), NOW)
        )
        campaign = conn.execute("select id from campaigns").fetchone()
        assert campaign is not None
        params = {"n": leads, "due": leads, "campaign": campaign[0], "now": NOW}
        for statement in SEED.split(";"):
            if statement.strip():
                conn.execute(statement.encode(), params)
        for k in range(4):  # texts written and sent before: the table not empty
            items = conn.execute(
                ITEMS, {"first": leads - (k + 1) * rows + 1, "last": leads - k * rows}
            ).fetchone()
            assert items is not None
            conn.execute(
                "select count(*) from enqueue_outbox(%s, %s, %s)",
                (Jsonb(items[0]), NOW, Jsonb({"sms": rows})),
            )
        conn.execute("analyze")
        spent: dict[tuple[str, str], list[float]] = {}
        rng = random.Random(7)
        for n in range(rounds + 1):
            for arrangement in rng.sample(ARRANGEMENTS, len(ARRANGEMENTS)):
                first = 1 + (n % 4) * rows
                for call, seconds in batch(conn, arrangement, first, rows).items():
                    if n:  # the first round warms the caches and the plans
                        spent.setdefault((arrangement, call), []).append(seconds)
    print(f"{rows} texts a batch, {leads:,} leads, median ms of {rounds} rounds:")
    print(f"  {'':<24}" + "".join(f"{a:>24}" for a in ARRANGEMENTS))
    for call in CALLS:
        cells = [1000 * statistics.median(spent[a, call]) for a in ARRANGEMENTS]
        print(f"  {call:<24}" + "".join(f"{c:>24.2f}" for c in cells))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    main(args.leads, args.rows, args.rounds)
