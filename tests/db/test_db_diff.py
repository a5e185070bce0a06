"""`db_diff` on a copy of supabase/: function changes become a migration, tables a report."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.db.schema_diff import MIGRATIONS, SCHEMAS, db_diff
from tests.db.support import copy_supabase

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
WRITTEN = MIGRATIONS / "20300102030405_simulate_changes.sql"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer has {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def changed_root(tmp_path: Path) -> Path:
    """A copy of supabase/ whose schema files change four functions and one table."""
    root = copy_supabase(tmp_path)
    schemas = root / SCHEMAS
    # a result type change: `create or replace` cannot do it, the migration drops first
    _edit(
        schemas / "08_simulate.sql",
        "returns table (lead_id bigint, phone text, email text, score real)",
        "returns table (lead_id bigint, phone text, email text, score real, name text)",
    )
    _edit(
        schemas / "08_simulate.sql",
        "l.email, l.score from leads l",
        "l.email, l.score, l.name from leads l",
    )
    # a new function
    with (schemas / "08_simulate.sql").open("a") as f:
        f.write(
            "\ncreate function simulate_ping() returns integer\nlanguage sql as $$ select 1 $$;\n"
        )
    # a body change
    _edit(
        schemas / "07_appointments.sql",
        "select exists (select from digests where day = p_day);",
        "select exists (select from digests d where d.day = p_day);",
    )
    # a removed function
    alerts = schemas / "05_alerts.sql"
    text, n = re.subn(
        r"create or replace function recent_health_checks\(.*?\n\$\$;\n",
        "",
        alerts.read_text(),
        flags=re.S,
    )
    assert n == 1
    alerts.write_text(text)
    # a table change: reported, never written
    _edit(
        schemas / "07_appointments.sql",
        "message_ids bigint[] not null default '{}'\n",
        "message_ids bigint[] not null default '{}',\n  note        text\n",
    )
    return root


def test_function_changes_become_a_migration_and_tables_a_report(
    pg_admin_dsn: str, changed_root: Path
) -> None:
    dry = db_diff("simulate_changes", dsn=pg_admin_dsn, root=changed_root, write=False, now=NOW)
    assert not dry.written and not (changed_root / WRITTEN).exists()
    assert dry.migration_path == WRITTEN and dry.migration_sql

    report = db_diff("simulate_changes", dsn=pg_admin_dsn, root=changed_root, now=NOW)
    text = "\n".join(report.lines())
    assert report.written and not report.clean, text
    assert report.verification == [], text  # the migration applied and built the functions
    assert "functions: 2 changed, 1 new, 1 removed" in text
    assert f"wrote {WRITTEN}" in text
    migration = (changed_root / WRITTEN).read_text()
    assert migration == report.migration_sql
    assert "drop function if exists public.recent_health_checks(integer);" in migration
    assert "drop function public.simulate_lead_scores();" in migration
    assert "CREATE OR REPLACE FUNCTION public.simulate_ping()" in migration
    assert "CREATE OR REPLACE FUNCTION public.digest_sent(p_day date)" in migration
    assert "grant execute on function public.simulate_ping() to service_role;" in migration
    assert "revoke all on function public.digest_sent(date) from public, anon, authenticated;" in (
        migration
    )
    # the new column is named for a human, not written
    assert "column public.digests.note: only in the schema files" in migration
    assert "alter table" not in migration.lower()
    assert [d.key for d in report.other_differences if d.kind == "column"] == [
        "public.digests.note"
    ]

    again = db_diff(None, dsn=pg_admin_dsn, root=changed_root, now=NOW)
    assert again.function_differences == [], "\n".join(again.lines())
    assert [d.key for d in again.other_differences if d.kind == "column"] == ["public.digests.note"]
    assert any(WRITTEN.name in p and "is not in" in p for p in again.hash_problems)


def test_an_unchanged_tree_is_clean_and_writes_nothing(pg_admin_dsn: str, tmp_path: Path) -> None:
    root = copy_supabase(tmp_path)
    report = db_diff("nothing", dsn=pg_admin_dsn, root=root, now=NOW)
    assert report.clean, "\n".join(report.lines())
    assert report.migration_path is None and not report.written
    assert "no differences" in report.lines()[1]
    assert sorted((root / MIGRATIONS).glob("2030*")) == []


def test_a_bad_name_or_an_old_clock_is_refused(tmp_path: Path) -> None:
    root = copy_supabase(tmp_path)
    with pytest.raises(ValueError, match="lower-case"):
        db_diff("Add-Thing", dsn="unused", root=root, now=NOW)
    with pytest.raises(ValueError, match="not after the latest migration"):
        db_diff("late", dsn="unused", root=root, now=datetime(2020, 1, 1, tzinfo=UTC))


def test_the_command_says_the_repository_is_in_step() -> None:
    result = CliRunner().invoke(cli, ["db", "diff"])
    assert result.exit_code == 0, result.output
    assert "no differences" in result.output
