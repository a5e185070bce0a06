"""Helpers that only SQL calls live in schema `internal`; Python calls only `public`."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.db.support import ROOT, Built

# Public although no Python code calls it, with the reason.
KEPT_PUBLIC = {
    "outbox_opt_out": "tests/webhooks/test_rescue.py opts a lead out through it",
}


def _functions(dsn: str) -> dict[str, dict[str, str]]:
    """schema -> function name -> body, for public and internal."""
    found: dict[str, dict[str, str]] = {"public": {}, "internal": {}}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select n.nspname, p.proname, p.prosrc from pg_proc p"
            " join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname in ('public', 'internal')"
        ).fetchall()
    for schema, name, body in rows:
        found[schema][name] = body
    return found


def _python_strings() -> set[str]:
    """Every identifier-like string literal in app/: the names Python calls functions by."""
    found: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        found.update(re.findall(r"[\"']([a-z_][a-z0-9_]*)[\"']", path.read_text("utf-8")))
    return found


def _one_edit_apart(a: str, b: str) -> bool:
    """True when a and b differ by at most one inserted, deleted or replaced character."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


def test_python_never_calls_an_internal_helper(built: Built) -> None:
    # PostgREST exposes `public` only: a helper called by name from Python would fail there.
    internal = _functions(built.migrated)["internal"]
    assert internal, "no internal helpers"
    assert sorted(set(internal) & _python_strings()) == []


def test_a_function_only_sql_calls_is_internal(built: Built) -> None:
    functions = _functions(built.migrated)
    bodies = [body for schema in functions.values() for body in schema.values()]
    python = _python_strings()
    only_sql = [
        name
        for name in functions["public"]
        if name not in python
        and name not in KEPT_PUBLIC
        and any(re.search(rf"(?<![.\w]){name}\s*\(", body) for body in bodies)
    ]
    assert only_sql == [], "called only by SQL: move to schema internal (a new migration)"


def test_no_helper_is_one_letter_away_from_a_public_function(built: Built) -> None:
    functions = _functions(built.migrated)
    close = [
        (helper, public)
        for helper in functions["internal"]
        for public in functions["public"]
        if _one_edit_apart(helper, public)
    ]
    assert close == []


def test_service_role_reaches_the_helpers_only_through_public_functions(
    database_dsn: str,
) -> None:
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute("set role service_role")
        # A lead insert fires the scoring trigger: internal.scoring_mark writes scoring_dirty.
        conn.execute('select * from upsert_leads(\'[{"phone": "+15555550100"}]\')')
        assert conn.execute("select count(*) from scoring_dirty").fetchone() == (1,)
        stored = conn.execute(
            "select webhook_store_only('vapi', 'k1', 'hang', '{}', now())"
        ).fetchone()
        assert stored == (True,)  # internal.webhook_store_event stored it
        conn.execute("select * from alerts_list()")  # inlines internal.alert_is_silenced
        conn.execute("reset role")
        conn.execute("set role anon")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select internal.alert_new_code()")
