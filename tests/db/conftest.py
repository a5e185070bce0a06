"""One database built from supabase/migrations/ and one from supabase/schemas/, per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.db.migrate import migrate
from app.db.schema_diff import MIGRATIONS, SCHEMAS, apply_schema_files, scratch_database
from tests.db.support import ROOT, Built


@pytest.fixture(scope="session")
def built(pg_admin_dsn: str) -> Iterator[Built]:
    with (
        scratch_database(pg_admin_dsn, "migrations") as migrated,
        scratch_database(pg_admin_dsn, "schemas") as declared,
    ):
        migrate(migrated, ROOT / MIGRATIONS)
        apply_schema_files(declared, ROOT / SCHEMAS)
        yield Built(migrated, declared)
