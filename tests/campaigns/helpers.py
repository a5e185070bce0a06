"""Shared helpers for the campaign tests: a campaign in YAML, leads, and SQL peeks."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

from app.campaigns.definition import load_campaign_yaml
from app.db.transport import PostgresTransport
from app.jobs.bootstrap import Context
from tests.consented import consented_lead

CAMPAIGN = """
slug: tune-up
name: Tune-up recall
timezone: America/New_York
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "21:00"}
caps: {new_per_day: 1000}
steps:
  - channel: sms
    delay: 0m
    body: >-
      Hi {{ lead.first_name }}, {{ business.name }} here: time for your tune-up?
      Reply STOP to opt out.
  - channel: email
    delay: 2d
    subject: "Your tune-up, {{ lead.first_name }}"
    html: '<p>Book here: <a href="https://example.com/book">book</a></p>'
"""

# one call step, called as soon as queued, in the federal hours: the call queue's tests
CALLS = """
slug: calls
name: Calls
call_timing: asap
window: {start: "08:00", end: "21:00"}
steps:
  - channel: call
"""


async def load(ctx: Context, text: str = CAMPAIGN) -> int:
    saved = await ctx.repos.campaigns.upsert(load_campaign_yaml(text).to_row(), ctx.clock.now())
    return saved.campaign_id


async def add_leads(ctx: Context, n: int, **fields: Any) -> None:
    """`n` leads with consent to every channel on record (tests/consented.py)."""
    leads = [
        consented_lead(
            name=f"Lead {i}", phone=f"+1212555{i:04d}", email=f"lead{i}@example.com", **fields
        )
        for i in range(n)
    ]
    await ctx.repos.leads.upsert(leads, ctx.clock.now())


async def query(ctx: Context, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Test-only read (the app reads through functions)."""
    pg = ctx.transport
    assert isinstance(pg, PostgresTransport)
    async with pg._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)  # type: ignore[arg-type]
        return list(await cur.fetchall())
