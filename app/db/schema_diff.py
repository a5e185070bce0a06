"""`nightshift db diff`: supabase/schemas/ is the current definition, migrations the history.

`db_diff` builds two scratch databases on a server it may create databases on (the
embedded dev server, a local Postgres; never production): one from supabase/migrations/
(`nightshift migrate`'s order and bookkeeping), one from supabase/schemas/*.sql (in
lexicographic order, the Supabase CLI's order when config.toml lists no schema_paths; each
file in its own session and transaction). It compares their catalogs
(app/db/schema_catalog.py) and drops both databases again.

With a NAME it writes supabase/migrations/<UTC timestamp>_<NAME>.sql holding every function
that is new or changed in the schema files (`create or replace`, preceded by a `drop` when its
arguments or result type changed), a `drop` for each function the schema files no longer
define, and each written function's grant (service_role only). Before writing, the migration
is applied to the migrations' scratch database and the functions compared again, so a file
that does not apply, or does not produce the declared functions, is reported. Tables,
indexes, triggers, policies and other grants are reported, never written: a human writes
them (their order and data migrations need judgement).

The report also carries app/db/migration_hashes.py's check: a landed migration never changes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from app.db.migrate import discover, migrate
from app.db.migration_hashes import migration_hash_problems
from app.db.schema_catalog import Difference, compare, read_catalog

REPOSITORY = Path(__file__).resolve().parents[2]  # the checkout this package runs from
SCHEMAS = Path("supabase/schemas")
MIGRATIONS = Path("supabase/migrations")
FUNCTION_KINDS = ("function", "function grant")
_SIDES = ("migrations", "schema files")
_NAME = re.compile(r"^[a-z0-9_]+$")
_CREATE_FUNCTION = re.compile(
    r"^[ \t]*create\s+(?:or\s+replace\s+)?function\s+"
    r"([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s*\(",
    re.IGNORECASE | re.MULTILINE,
)


class SchemaFileError(RuntimeError):
    """A schema file failed to apply; the message names the file."""


@contextmanager
def scratch_database(admin_dsn: str, label: str) -> Iterator[str]:
    """A new empty database on the server of `admin_dsn`, dropped on exit; yields its DSN."""
    name = f"nightshift_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield conninfo.make_conninfo(admin_dsn, dbname=name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def apply_schema_files(dsn: str, directory: Path) -> list[str]:
    """Apply every *.sql of `directory` in lexicographic order, each file in its own session
    and transaction (a `set` in one file does not leak into the next); returns the names."""
    names: list[str] = []
    for path in sorted(directory.glob("*.sql")):
        try:
            with psycopg.connect(dsn, prepare_threshold=None) as conn:
                conn.execute(path.read_bytes())
        except psycopg.Error as exc:
            raise SchemaFileError(f"{path.name}: {exc}") from exc
        names.append(path.name)
    return names


def schema_file_functions(directory: Path) -> dict[str, list[str]]:
    """Each function the schema files create ("schema.name", public when unqualified) and
    where: ["03_outbox.sql:120", ...]. Only statements that start a line count."""
    found: dict[str, list[str]] = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        for match in _CREATE_FUNCTION.finditer(text):
            name = match[1].lower()
            name = name if "." in name else f"public.{name}"
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(name, []).append(f"{path.name}:{line}")
    return found


def compare_dsns(migrations_dsn: str, schemas_dsn: str) -> list[Difference]:
    """Differences between two databases (left: the migrations', right: the schemas')."""
    return compare(read_catalog(migrations_dsn), read_catalog(schemas_dsn))


@dataclass
class DiffReport:
    """What `db_diff` found and did. `clean`: nothing differs and every migration is recorded."""

    migrations: int
    schema_files: int
    differences: list[Difference]
    name: str | None = None
    hash_problems: list[str] = field(default_factory=list)
    migration_path: Path | None = None  # relative to the root; set when NAME was given
    migration_sql: str | None = None
    written: bool = False
    verification: list[str] = field(default_factory=list)  # empty: the migration applied

    @property
    def clean(self) -> bool:
        return not self.differences and not self.hash_problems

    @property
    def exit_code(self) -> int:
        """For a command: 0 when clean or when the migration was written and applied on the
        scratch copy (what is left is for a human, and listed); 1 otherwise."""
        return 0 if self.clean or (self.written and not self.verification) else 1

    @property
    def function_differences(self) -> list[Difference]:
        return [d for d in self.differences if d.kind in FUNCTION_KINDS]

    @property
    def other_differences(self) -> list[Difference]:
        return [d for d in self.differences if d.kind not in FUNCTION_KINDS]

    def lines(self) -> list[str]:
        """The report for a terminal, one line per entry."""
        out = [f"compared {self.migrations} migrations with {self.schema_files} schema files"]
        if not self.differences:
            out.append("no differences: the migrations build what supabase/schemas/ declares")
        functions = [d for d in self.function_differences if d.kind == "function"]
        keys = {d.key for d in functions}
        grants = [
            d for d in self.function_differences if d.kind != "function" and d.key not in keys
        ]
        if self.function_differences:
            new = sum(d.left is None for d in functions)
            removed = sum(d.right is None for d in functions)
            out.append(
                f"functions: {len(functions) - new - removed} changed, {new} new, {removed} removed"
                + (f", {len(grants)} with other grants" if grants else "")
            )
            for d in functions + grants:
                out.extend("  " + line for line in d.lines(*_SIDES))
        if self.other_differences:
            out.append(
                f"{len(self.other_differences)} other differences (tables, indexes, triggers,"
                " grants...): write these by hand in a migration"
            )
            for d in self.other_differences:
                out.extend("  " + line for line in d.lines(*_SIDES))
        if self.name is not None and self.migration_path is None:
            out.append("no function differences: no migration written")
        if self.migration_path is not None:
            verb = "wrote" if self.written else "would write"
            out.append(f"{verb} {self.migration_path}")
            out.extend(self.verification or ["  applied to a copy of the migrated database: ok"])
        out.extend(self.hash_problems)
        return out


def db_diff(
    name: str | None, *, dsn: str, root: Path, write: bool = True, now: datetime
) -> DiffReport:
    """Compare the migrations with the schema files under `root` (the repository root) on
    the server of `dsn`; with `name`, write the function changes as a new migration (only
    when `write` and there are function changes). Raises ValueError for a bad name or a
    timestamp not after the latest migration, SchemaFileError for a schema file that fails."""
    migrations = discover(root / MIGRATIONS)
    path = _new_migration_path(name, now, migrations[-1].version if migrations else "")
    with (
        scratch_database(dsn, "migrations") as migrated,
        scratch_database(dsn, "schemas") as declared,
    ):
        migrate(migrated, root / MIGRATIONS)
        files = apply_schema_files(declared, root / SCHEMAS)
        target = read_catalog(declared)
        differences = compare(read_catalog(migrated), target)
        report = DiffReport(len(migrations), len(files), differences, name=name)
        if path is not None and report.function_differences:
            locations = schema_file_functions(root / SCHEMAS)
            report.migration_path = path
            report.migration_sql = _migration_sql(name or "", now, report, locations)
            report.verification = _verify(migrated, report.migration_sql, target)
    if report.migration_path is not None and report.migration_sql is not None and write:
        (root / report.migration_path).write_text(report.migration_sql, encoding="utf-8")
        report.written = True
    report.hash_problems = migration_hash_problems(root)
    return report


def _new_migration_path(name: str | None, now: datetime, latest: str) -> Path | None:
    if name is None:
        return None
    if not _NAME.match(name):
        raise ValueError(f"{name!r}: a migration name is lower-case letters, digits and _")
    version = now.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    if version <= latest:
        raise ValueError(f"{version} is not after the latest migration ({latest}): check the clock")
    return MIGRATIONS / f"{version}_{name}.sql"


def _verify(migrated_dsn: str, migration_sql: str, target: dict[str, dict[str, str]]) -> list[str]:
    """Apply the migration to the migrated scratch database; what still differs in functions."""
    try:
        with psycopg.connect(migrated_dsn, prepare_threshold=None) as conn:
            conn.execute(migration_sql.encode())
    except psycopg.Error as exc:
        return [f"  the migration does not apply: {exc}".rstrip()]
    left = read_catalog(migrated_dsn)
    remaining = [d for d in compare(left, target) if d.kind in FUNCTION_KINDS]
    if not remaining:
        return []
    lines = ["  after the migration these functions still differ (fix it by hand):"]
    for d in remaining:
        lines.extend("    " + line for line in d.lines("migrated", "schema files"))
    return lines


def _migration_sql(
    name: str, now: datetime, report: DiffReport, locations: dict[str, list[str]]
) -> str:
    """The migration text: drops, then each new or changed function in schema-file order
    (callers after the helpers they were declared after), each with its grant."""
    out = [
        f"-- {name}: written by `nightshift db diff {name}` from supabase/schemas/",
        f"-- at {now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC. Functions as the schema files define",
        "-- them, executable by service_role only. Review it, then record its sha256",
        "-- (supabase/migrations.sha256).",
    ]
    if report.other_differences:
        out += ["--", "-- Not written here, for a human to add above the functions that need it:"]
        out += [f"--   {d.kind} {d.key}: {_side(d)}" for d in report.other_differences]
    by_key = {d.key: d for d in report.differences if d.kind == "function"}
    removed = sorted(key for key, d in by_key.items() if d.right is None)
    out += [f"\ndrop function if exists {key};" for key in removed]

    def position(key: str) -> tuple[str, int]:
        file, _, line = (locations.get(key.partition("(")[0]) or ["~:0"])[0].partition(":")
        return file, int(line)

    kept = {d.key for d in report.function_differences} - set(removed)
    for key in sorted(kept, key=lambda k: (position(k), k)):
        where = ", ".join(locations.get(key.partition("(")[0], ["no schema file"]))
        out += ["", f"-- {key}  ({where})"]
        changed = by_key.get(key)  # None: only its grant differs
        if changed is not None and _signature_changed(changed):
            out.append(f"drop function {key};  -- its arguments or result type changed")
        if changed is not None and changed.right is not None:
            out.append(changed.right.rstrip() + ";")
        out.append(f"revoke all on function {key} from public, anon, authenticated;")
        out.append(f"grant execute on function {key} to service_role;")
    return "\n".join(out) + "\n"


def _signature_changed(d: Difference) -> bool:
    """True when the signature or RETURNS line differs: `create or replace` cannot do that."""
    if d.left is None or d.right is None:
        return False
    return d.left.splitlines()[:2] != d.right.splitlines()[:2]


def _side(d: Difference) -> str:
    if d.left is None:
        return "only in the schema files"
    if d.right is None:
        return "only in the migrations"
    return "differs"
