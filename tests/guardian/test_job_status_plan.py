"""The guardian's job states (`job_status`, read at every guardian run) find each job's last
success with one index probe, even before job_runs has statistics.

A fresh database (a new deployment, every simulated month) has none until autovacuum first
analyses it: the planner then took `status = 'succeeded'` for a rare value and read every
run of the job, then sorted them, at every guardian run (issue 19, stop 28:
bench/guardian_days.py, bench/job_status_stats_ab.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from tests.alerts.support import query

NOW = datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
LAST_SUCCESS = (
    "explain select s.finished_at from job_runs s where s.job = 'drip'"
    " and s.status = 'succeeded' order by s.started_at desc limit 1"
)


def a_week_of_drip_runs(dsn: str) -> None:
    """2,016 drip runs five minutes apart up to NOW, every one succeeded but the newest two
    (failed, then one still running), on a job_runs no autovacuum analyses meanwhile."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("alter table job_runs set (autovacuum_enabled = false)")
        conn.execute(
            "insert into job_runs (id, job, status, holder, started_at, finished_at)"
            " select gen_random_uuid(), 'drip',"
            "        case i when 0 then 'running' when 1 then 'failed' else 'succeeded' end,"
            "        'test', %(now)s - make_interval(mins => 5 * i),"
            "        case when i > 0 then %(now)s - make_interval(mins => 5 * i, secs => -2) end"
            "   from generate_series(0, 2015) as i",
            {"now": NOW},
        )


def test_the_last_success_is_one_probe_of_the_successful_runs_without_statistics(
    database_dsn: str,
) -> None:
    a_week_of_drip_runs(database_dsn)
    stats = query(database_dsn, "select count(*) as n from pg_stats where tablename = 'job_runs'")
    assert stats[0]["n"] == 0  # nothing analysed it: the planner knows no status's share

    plan = "\n".join(r["QUERY PLAN"] for r in query(database_dsn, LAST_SUCCESS))

    assert "job_runs_succeeded_idx" in plan, plan
    assert "Sort" not in plan and "Bitmap" not in plan, plan


def test_the_job_state_names_the_newest_run_and_the_last_success_before_it(
    database_dsn: str,
) -> None:
    a_week_of_drip_runs(database_dsn)

    [state] = query(database_dsn, "select * from job_status(%s, %s)", NOW, ["drip"])

    assert state["status"] == "running" and state["started_at"] == NOW
    # the newest success: two runs back (the failed one between), finished 2 s after its start
    assert state["last_success_at"] == datetime(2026, 12, 8, 4, 50, 2, tzinfo=UTC)
