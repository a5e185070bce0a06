"""`nightshift db diff [NAME]`: the schema files against the migrations, on scratch databases."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import typer

from app.db.embedded import start_embedded
from app.db.schema_diff import REPOSITORY, SchemaFileError, db_diff

db_cli = typer.Typer(help="The SQL's current home (supabase/schemas) and its history.")


@db_cli.command("diff")
def diff(
    name: str | None = typer.Argument(
        None, help="Write supabase/migrations/<timestamp>_<NAME>.sql with the changed functions."
    ),
) -> None:
    """Build one scratch database from supabase/migrations and one from supabase/schemas,
    compare them (functions, columns, indexes, policies, triggers, grants) and, with NAME,
    write a migration holding the functions that changed; table differences are reported
    for a person to write by hand. Never touches the configured database."""
    with tempfile.TemporaryDirectory() as tmp:
        server = start_embedded(Path(tmp) / "pg")
        try:
            report = db_diff(name, dsn=server.get_uri(), root=REPOSITORY, now=datetime.now(UTC))
        except (ValueError, SchemaFileError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        finally:
            server.cleanup()
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(report.exit_code)
