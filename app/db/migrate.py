"""`nightshift migrate`: apply pending files of supabase/migrations in order, once each.

Applied files are recorded where the Supabase CLI records them
(`supabase_migrations.schema_migrations`, keyed by the file's timestamp prefix), so
`supabase db push` and `nightshift migrate` agree on what is already applied. Each file runs
in its own transaction; an advisory lock keeps two concurrent migrators from interleaving.
DDL needs a direct connection: PostgREST cannot run it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from app.db.errors import translate

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
_FILE = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_355_608  # pg_advisory_xact_lock key for "nightshift migrate"

_BOOKKEEPING = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key, statements text[], name text
);
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migration files in version order; a misnamed .sql file is an error, not skipped."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"{path.name}: migration files are named <14 digits>_<name>.sql")
        found.append(Migration(match[1], match[2], path))
    return found


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns the versions applied (empty when up to date)."""
    applied: list[str] = []
    try:
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
            conn.execute(_BOOKKEEPING)
            for migration in discover(directory):
                with conn.transaction():
                    conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    done = conn.execute(
                        "select 1 from supabase_migrations.schema_migrations where version = %s",
                        (migration.version,),
                    ).fetchone()
                    if done:
                        continue
                    conn.execute(migration.sql().encode())
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations"
                        " (version, name, statements) values (%s, %s, %s)",
                        (migration.version, migration.name, [migration.sql()]),
                    )
                    applied.append(migration.version)
    except psycopg.Error as exc:
        raise translate(exc.sqlstate, f"migration failed: {exc}") from exc
    return applied
