"""The repository layer: Postgres functions called over a Transport (psycopg or PostgREST)."""

from app.db.errors import (
    ConflictError,
    DatabaseError,
    DatabaseUnavailable,
    InvalidInput,
    NotFound,
)
from app.db.repositories import Repositories
from app.db.transport import PostgresTransport, Transport

__all__ = [
    "ConflictError",
    "DatabaseError",
    "DatabaseUnavailable",
    "InvalidInput",
    "NotFound",
    "PostgresTransport",
    "Repositories",
    "Transport",
]
