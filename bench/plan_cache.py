"""SQL functions re-planned at every call against the same body in plpgsql (planned once).

A SQL-language function that is not inlined (one that writes, or one with `set search_path`,
or one PERFORMed from plpgsql) is parsed and planned again at each call; plpgsql caches its
plans per connection. For each function this measures the migrated body as it was (language
sql, a copy) against the same body in plpgsql, on one connection, each call its own
transaction (autocommit), rounds alternating, round trip included:

- `internal.scoring_mark` (every marked write's trigger; migration
  20261207105000_scoring_mark_plpgsql, which made it plpgsql);
- `internal.lead_recent_attempts` (read by an end-of-call report that can queue a rescue text;
  still sql, it is also used inside drip's set-based queries; migration
  20261207103000_ingest_store reads it only for the rescue outcomes).

    .venv/bin/python bench/plan_cache.py [--calls 1000] [--rounds 6]

Not a test: it prints measured figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psycopg

from app.db.embedded import start_embedded
from app.db.migrate import migrate

MARK_BODY = """
  insert into scoring_dirty (lead_id)
  select distinct u.id from unnest(p_lead_ids) u(id) where u.id is not null
  on conflict (lead_id) do update set seq = nextval('scoring_dirty_seq')"""
ATTEMPTS_BODY = """
  select coalesce(jsonb_agg(t order by t), '[]') from (
    select coalesce(m.sent_at, m.claimed_at) t from messages m
     where m.lead_id = p_lead_id and m.channel = 'sms' and m.kind in ('marketing', 'rescue')
       and m.claimed_at is not null and m.status <> 'cancelled'
    union all
    select coalesce(k.placed_at, k.claimed_at) from calls k
     where k.lead_id = p_lead_id and k.claimed_at is not null and k.status <> 'cancelled'
  ) x
  where t > p_now - interval '24 hours' and t <= p_now"""
COPIES = f"""
create function bench_mark_sql(p_lead_ids bigint[]) returns void
language sql set search_path = public as $${MARK_BODY};$$;
create function bench_mark_plpgsql(p_lead_ids bigint[]) returns void
language plpgsql set search_path = public as $$begin{MARK_BODY};
end$$;
create function bench_attempts_sql(p_lead_id bigint, p_now timestamptz) returns jsonb
language sql stable as $${ATTEMPTS_BODY};$$;
create function bench_attempts_plpgsql(p_lead_id bigint, p_now timestamptz) returns jsonb
language plpgsql stable as $$begin return ({ATTEMPTS_BODY}); end$$;
"""
CALLS = {
    "scoring_mark": ("select bench_mark_{}(%s)", lambda i: ([i],)),
    "lead_recent_attempts": ("select bench_attempts_{}(%s, now())", lambda i: (i,)),
}


def measure(conn: psycopg.Connection, ids: list[int], calls: int, rounds: int) -> None:
    for name, (statement, args) in CALLS.items():
        ms: dict[str, list[float]] = {"sql": [], "plpgsql": []}
        for _ in range(rounds):
            for lang in ms:
                started = time.perf_counter()
                for i in range(calls):
                    conn.execute(statement.format(lang), args(ids[i % len(ids)]))
                ms[lang].append((time.perf_counter() - started) / calls * 1e3)
        for lang, values in ms.items():
            shown = " ".join(f"{v:.3f}" for v in values)
            print(f"{name:22s} {lang:8s} ms a call, {rounds} rounds: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nightshift-plan-") as tmp:
        server = start_embedded(str(Path(tmp) / "pg"))
        try:
            dsn = str(server.get_uri())
            migrate(dsn)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(COPIES)
                conn.execute(
                    "insert into leads (name, phone) select 'Lead ' || g,"
                    " '+1555' || lpad(g::text, 7, '0') from generate_series(1, 100) g"
                )
                ids = [r[0] for r in conn.execute("select id from leads order by id")]
                print(f"{args.calls} calls a round, each its own transaction, one connection")
                measure(conn, ids, args.calls, args.rounds)
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
