"""`enroll_leads` is planned at every call (issue 19): over a pooled connection its INSERT ...
SELECT kept the generic plan cached in the first hour of a simulated month, when
enrollments was nearly empty, and the day's first run took 0.8 s on day 2 and 3.2 s on day 3
(0.05-0.09 s planned per call; migration 20261207101000). The statement, its ORDER BY (a total
order) and LIMIT are unchanged: the same enrollments."""

from __future__ import annotations

from tests.alerts.support import query


def test_enroll_leads_is_planned_at_every_call(database_dsn: str) -> None:
    rows = query(database_dsn, "select proconfig from pg_proc where proname = 'enroll_leads'")
    assert [r["proconfig"] for r in rows] == [
        ["search_path=public", "plan_cache_mode=force_custom_plan"]
    ]


def test_todays_enrollments_are_counted_from_an_index(database_dsn: str) -> None:
    rows = query(
        database_dsn,
        "select indexdef from pg_indexes where indexname = 'enrollments_campaign_enrolled_idx'",
    )
    assert [r["indexdef"].split(" USING ")[1] for r in rows] == ["btree (campaign_id, enrolled_at)"]
