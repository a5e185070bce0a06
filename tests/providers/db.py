"""Database helpers for the provider tests."""

from __future__ import annotations

from typing import Any

import psycopg

from app.core.clock import ManualClock
from app.db.repositories import Repositories
from tests.consented import consented_lead

PHONE = "+15558675310"


async def make_lead(repos: Repositories, clock: ManualClock, dsn: str, phone: str = PHONE) -> int:
    await repos.leads.upsert(
        [consented_lead(name="Dana", phone=phone, email="dana@example.org")], clock.now()
    )
    return int(sql(dsn, "select id from leads where phone = %s", phone)[0]["id"])


def sql(dsn: str, query: str, *args: Any) -> list[dict[str, Any]]:
    """Test-only inspection of the tables (the code under test goes through functions)."""
    with psycopg.connect(dsn, row_factory=psycopg.rows.dict_row) as conn:
        cursor = conn.execute(query, args)  # type: ignore[arg-type]
        return list(cursor.fetchall()) if cursor.description else []
