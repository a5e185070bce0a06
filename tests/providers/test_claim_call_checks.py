"""claim_call's last-moment checks read in one statement (issue 19): the opt-out still wins
over a refusal, a refusal still records its consent skip, and neither check is a SQL function
planned again at every claim."""

from __future__ import annotations

import psycopg
import pytest

from app.core.clock import ManualClock
from app.db.outbox import CallIn
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport
from tests.providers.db import PHONE, make_lead, sql


@pytest.fixture
def repos(transport: PostgresTransport) -> Repositories:
    return Repositories(transport)


async def test_a_do_not_call_lead_without_consent_is_suppressed_not_refused(
    repos: Repositories, clock: ManualClock, database_dsn: str
) -> None:
    """Dana texted STOP to calls and never gave ai_voice consent: the opt-out is the reason."""
    lead = await make_lead(repos, clock, database_dsn)
    sql(database_dsn, "delete from consents where lead_id = %s", lead)
    sql(database_dsn, "update leads set calls_opted_out_at = now() where id = %s", lead)
    row = await repos.outbox.enqueue_call(
        CallIn(idempotency_key="call:dana:1", to_number=PHONE, lead_id=lead), clock.now()
    )
    claim = await repos.outbox.claim_call(row.id, clock.now())
    assert claim.outcome == "suppressed"
    [call] = sql(database_dsn, "select status, error_code from calls where id = %s", row.id)
    assert call == {"status": "cancelled", "error_code": "suppressed"}
    assert sql(database_dsn, "select * from consent_skips where lead_id = %s", lead) == []


async def test_a_lead_without_ai_voice_consent_is_refused_and_the_skip_recorded(
    repos: Repositories, clock: ManualClock, database_dsn: str
) -> None:
    lead = await make_lead(repos, clock, database_dsn)
    sql(database_dsn, "delete from consents where lead_id = %s and channel = 'ai_voice'", lead)
    row = await repos.outbox.enqueue_call(
        CallIn(idempotency_key="call:dana:2", to_number=PHONE, lead_id=lead), clock.now()
    )
    claim = await repos.outbox.claim_call(row.id, clock.now())
    assert claim.outcome == "refused"
    [call] = sql(database_dsn, "select status, error_code from calls where id = %s", row.id)
    assert call == {"status": "cancelled", "error_code": "no_ai_voice_consent"}
    skips = sql(
        database_dsn, "select channel, reason, stage from consent_skips where lead_id = %s", lead
    )
    assert skips == [{"channel": "call", "reason": "no_ai_voice_consent", "stage": "call"}]


async def test_a_consented_lead_is_claimed(
    repos: Repositories, clock: ManualClock, database_dsn: str
) -> None:
    lead = await make_lead(repos, clock, database_dsn)
    row = await repos.outbox.enqueue_call(
        CallIn(idempotency_key="call:dana:3", to_number=PHONE, lead_id=lead), clock.now()
    )
    assert (await repos.outbox.claim_call(row.id, clock.now())).outcome == "claimed"


def test_the_per_claim_reads_are_plpgsql_statements(database_dsn: str) -> None:
    """A SQL function with a FROM called as a scalar is parsed and planned at every call
    (~0.25 ms a claim, ~0.6 ms an end-of-call report): claim_call reads outbox_check in its
    own statement, and lead_recent_attempts is plpgsql (its plan kept per connection)."""
    with psycopg.connect(database_dsn) as conn:
        rows = dict(
            conn.execute(
                "select p.proname, l.lanname || ':' || p.prosrc from pg_proc p"
                " join pg_language l on l.oid = p.prolang"
                " where p.proname in ('claim_call', 'lead_recent_attempts')"
            ).fetchall()
        )
    assert rows["lead_recent_attempts"].startswith("plpgsql:")
    assert "outbox_is_suppressed(" not in rows["claim_call"]
    assert "outbox_refusal(" not in rows["claim_call"]
