"""Landed migrations never change: supabase/migrations.sha256 records each one's sha256."""

from __future__ import annotations

from pathlib import Path

from app.db.migration_hashes import HASHES, MIGRATIONS, migration_hash_problems
from tests.db.support import ROOT, copy_supabase


def test_every_landed_migration_is_as_recorded() -> None:
    problems = migration_hash_problems(ROOT)
    assert problems == [], "\n".join(problems)


def test_an_edited_migration_is_named_and_a_new_migration_asked_for(tmp_path: Path) -> None:
    root = copy_supabase(tmp_path)
    edited = sorted((root / MIGRATIONS).glob("*.sql"))[3]
    edited.write_text(edited.read_text() + "\n-- a late fix\n")
    [problem] = migration_hash_problems(root)
    assert f"supabase/migrations/{edited.name} was edited after it landed" in problem
    assert "new migration" in problem


def test_an_unrecorded_migration_says_how_to_record_it(tmp_path: Path) -> None:
    root = copy_supabase(tmp_path)
    (root / MIGRATIONS / "29991231000000_later.sql").write_text("select 1;\n")
    [problem] = migration_hash_problems(root)
    assert "supabase/migrations/29991231000000_later.sql is not in" in problem
    assert "cd supabase && sha256sum migrations/29991231000000_later.sql >> migrations.sha256" in (
        problem
    )


def test_a_deleted_migration_is_named(tmp_path: Path) -> None:
    root = copy_supabase(tmp_path)
    deleted = sorted((root / MIGRATIONS).glob("*.sql"))[0]
    deleted.unlink()
    [problem] = migration_hash_problems(root)
    assert f"supabase/migrations/{deleted.name} is recorded in {HASHES} but missing" in problem
