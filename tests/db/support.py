"""Shared by the tests of the schema files, the migrations and `db diff`."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Built:
    migrated: str  # DSN of the database the migrations built
    declared: str  # DSN of the database the schema files built


def copy_supabase(destination: Path) -> Path:
    """A copy of the repository's supabase/ (migrations, schemas, hash list) under
    `destination`, which then stands for the repository root; returns it."""
    shutil.copytree(ROOT / "supabase", destination / "supabase")
    return destination
