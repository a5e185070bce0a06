"""Migrations apply to a fresh Postgres, are recorded, and a second run changes nothing;
the schema's security rules hold (RLS everywhere, functions in public and internal for
service_role only, schema internal for service_role only)."""

from __future__ import annotations

import psycopg
import pytest

from app.db.migrate import discover, migrate

TABLES = {
    "leads",
    "campaigns",
    "campaign_steps",
    "enrollments",
    "messages",
    "calls",
    "appointments",
    "click_events",
    "system_logs",
    "job_runs",
    "alerts",
    "health_checks",
    "webhook_events",
    "suppressions",
}


def _schema_snapshot(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return (
            conn.execute(
                """select table_name, column_name, data_type from information_schema.columns
               where table_schema = 'public' order by 1, 2"""
            ).fetchall()
            + conn.execute(
                "select nspname, proname, md5(prosrc) from pg_proc p join pg_namespace n"
                " on n.oid = p.pronamespace where nspname in ('public', 'internal')"
                " order by 1, 2, 3"
            ).fetchall()
        )


def test_migrate_fresh_then_again_is_a_no_op(fresh_dsn: str) -> None:
    versions = [m.version for m in discover()]
    assert migrate(fresh_dsn) == versions
    before = _schema_snapshot(fresh_dsn)
    assert migrate(fresh_dsn) == []
    assert _schema_snapshot(fresh_dsn) == before
    with psycopg.connect(fresh_dsn) as conn:
        recorded = conn.execute(
            "select version from supabase_migrations.schema_migrations order by 1"
        ).fetchall()
    assert [r[0] for r in recorded] == versions


def test_every_required_table_exists_with_rls(database_dsn: str) -> None:
    with psycopg.connect(database_dsn) as conn:
        rows = conn.execute(
            "select relname, relrowsecurity from pg_class c join pg_namespace n"
            " on n.oid = c.relnamespace where nspname = 'public' and relkind = 'r'"
        ).fetchall()
    tables = dict(rows)
    assert set(tables) >= TABLES
    assert [t for t, rls in tables.items() if not rls] == []


def test_functions_are_executable_by_service_role_only(database_dsn: str) -> None:
    with psycopg.connect(database_dsn) as conn:
        rows = conn.execute(
            """select n.nspname, p.oid::regprocedure::text,
                      has_function_privilege('anon', p.oid, 'execute'),
                      has_function_privilege('authenticated', p.oid, 'execute'),
                      has_function_privilege('service_role', p.oid, 'execute')
                 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where nspname in ('public', 'internal')"""
        ).fetchall()
    assert {r[0] for r in rows} == {"public", "internal"}, "no functions found"
    assert [r[1] for r in rows if r[2] or r[3] or not r[4]] == []


def test_only_service_role_may_use_the_internal_schema(database_dsn: str) -> None:
    with psycopg.connect(database_dsn) as conn:
        rows = conn.execute(
            "select r, has_schema_privilege(r, 'internal', 'usage')"
            " from unnest(array['anon', 'authenticated', 'service_role']) r"
        ).fetchall()
    assert dict(rows) == {"anon": False, "authenticated": False, "service_role": True}


def test_tables_are_granted_to_service_role_only(database_dsn: str) -> None:
    with psycopg.connect(database_dsn) as conn:
        rows = conn.execute(
            """select c.relname,
                      has_table_privilege('anon', c.oid, 'select, insert, update, delete'),
                      has_table_privilege('authenticated', c.oid, 'select, insert, update, delete'),
                      has_table_privilege('service_role', c.oid, 'select, insert, update, delete')
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where nspname = 'public' and relkind = 'r'"""
        ).fetchall()
    assert [r[0] for r in rows if r[1] or r[2] or not r[3]] == []


def test_anon_cannot_read_tables(database_dsn: str) -> None:
    with psycopg.connect(database_dsn) as conn:
        conn.execute("set role anon")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from leads")


def test_misnamed_migration_file_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "001_bad.sql").write_text("select 1;")
    with pytest.raises(ValueError, match="14 digits"):
        discover(tmp_path)
