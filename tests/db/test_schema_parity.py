"""supabase/schemas/ declares exactly what supabase/migrations/ builds, one home per function."""

from __future__ import annotations

import re

import psycopg

from app.db.schema_diff import SCHEMAS, compare_dsns, schema_file_functions
from tests.db.support import ROOT, Built


def test_schema_files_declare_what_the_migrations_build(built: Built) -> None:
    differences = compare_dsns(built.migrated, built.declared)
    report = [line for d in differences for line in d.lines("migrations", "schema files")]
    assert not differences, "\n".join(
        [
            "supabase/schemas/ and supabase/migrations/ build different databases. Change the"
            " schema file, then write the migration with `nightshift db diff NAME`:",
            *report,
        ]
    )


def test_every_function_is_defined_in_exactly_one_schema_file(built: Built) -> None:
    locations = schema_file_functions(ROOT / SCHEMAS)
    twice = {name: where for name, where in locations.items() if len(where) > 1}
    assert not twice, f"defined in more than one place: {twice}"
    with psycopg.connect(built.declared) as conn:
        rows = conn.execute(
            "select n.nspname || '.' || p.proname from pg_proc p"
            " join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname in ('public', 'internal')"
        ).fetchall()
    in_database = {r[0] for r in rows}
    assert sorted(in_database - set(locations)) == [], "created but not by a create function"
    assert sorted(set(locations) - in_database) == [], "in a schema file but not in the database"


def test_schema_files_are_numbered_for_their_order() -> None:
    # Supabase applies supabase/schemas/*.sql in lexicographic order (no schema_paths list in
    # a config.toml here): the two-digit prefix is the order.
    names = [p.name for p in sorted((ROOT / SCHEMAS).glob("*.sql"))]
    assert names, "no schema files"
    assert [n for n in names if not re.fullmatch(r"\d{2}_[a-z0-9_]+\.sql", n)] == []
    assert len({n[:2] for n in names}) == len(names), "two files share a prefix"
