"""Landed migrations never change: supabase/migrations.sha256 records each one's sha256.

The list is in `sha256sum` format with paths relative to supabase/, so
`cd supabase && sha256sum -c migrations.sha256` checks it and
`cd supabase && sha256sum migrations/<file> >> migrations.sha256` records a new migration.
A change to the schema is a new migration (`nightshift db diff NAME`), never an edit of one
that landed: a database that already applied it would never see the edit.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from app.db.migrate import discover

MIGRATIONS = Path("supabase/migrations")
HASHES = Path("supabase/migrations.sha256")
_HASH_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S+)$")


def migration_hash_problems(root: Path) -> list[str]:
    """One message per migration edited after it landed, missing, or not recorded yet in
    supabase/migrations.sha256 (empty when every landed migration is as recorded)."""
    listed: dict[str, str] = {}
    problems: list[str] = []
    hashes = root / HASHES
    for number, line in enumerate(
        hashes.read_text(encoding="utf-8").splitlines() if hashes.exists() else [], 1
    ):
        match = _HASH_LINE.match(line)
        if match:
            listed[match[2]] = match[1]
        elif line.strip():
            problems.append(f"{HASHES}:{number}: not a `sha256sum` line: {line!r}")
    for migration in discover(root / MIGRATIONS):
        relative = f"migrations/{migration.path.name}"
        recorded = listed.pop(relative, None)
        digest = hashlib.sha256(migration.path.read_bytes()).hexdigest()
        if recorded is None:
            problems.append(
                f"{MIGRATIONS / migration.path.name} is not in {HASHES}. Once it is final"
                f" (committed as is), record it: cd supabase && sha256sum {relative}"
                " >> migrations.sha256"
            )
        elif recorded != digest:
            problems.append(
                f"{MIGRATIONS / migration.path.name} was edited after it landed (its sha256 is"
                f" not the one in {HASHES}). A landed migration is history: restore it, make"
                " the change in supabase/schemas/ and add a new migration for it"
                " (`nightshift db diff NAME`)."
            )
    problems.extend(
        f"supabase/{relative} is recorded in {HASHES} but missing: a landed migration is"
        " never deleted; restore it."
        for relative in sorted(listed)
    )
    return problems
