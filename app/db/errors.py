"""The project's database errors, and the one place driver errors are translated.

Both transports raise only these. The SQLSTATE decides the class, so psycopg's errors and
PostgREST's error bodies (whose `code` is the SQLSTATE, or `PGRSTxxx` for its own) map alike.
"""

from __future__ import annotations


class DatabaseError(Exception):
    """Any failure of a database call. `code` is the SQLSTATE or PostgREST code when known."""

    def __init__(self, message: str, *, code: str | None = None, function: str | None = None):
        super().__init__(message)
        self.code = code
        self.function = function


class DatabaseUnavailable(DatabaseError):
    """The database could not be reached or dropped the connection: retry later."""


class ConflictError(DatabaseError):
    """A unique or exclusion constraint refused the write (SQLSTATE 23505, 23P01)."""


class InvalidInput(DatabaseError):
    """The call's arguments were refused: bad value, check or not-null violation (22xxx, 23xxx)."""


class NotFound(DatabaseError):
    """The function or the row it needed does not exist (42883, P0002, PGRST202)."""


# PostgREST's own codes (https://postgrest.org/en/stable/references/errors.html).
_POSTGREST = {
    "PGRST202": NotFound,  # function not found in the schema cache
    "PGRST203": InvalidInput,  # ambiguous overloaded function
    "PGRST204": InvalidInput,  # column not found
    "PGRST301": DatabaseUnavailable,  # JWT problem: treat as config, surfaced loudly
    "PGRST000": DatabaseUnavailable,  # could not connect to the database
    "PGRST001": DatabaseUnavailable,
    "PGRST002": DatabaseUnavailable,
    "PGRST003": DatabaseUnavailable,  # timed out acquiring a pool connection
}


def error_class_for(code: str | None) -> type[DatabaseError]:
    """The error class for a SQLSTATE or PostgREST code."""
    if not code:
        return DatabaseError
    if code in _POSTGREST:
        return _POSTGREST[code]
    if code in ("23505", "23P01"):
        return ConflictError
    if code in ("42883", "P0002", "42P01"):
        return NotFound
    if code.startswith(("22", "23")) or code == "P0001":
        return InvalidInput
    if code.startswith(("08", "57P", "53")):  # connection, shutdown, out of resources
        return DatabaseUnavailable
    return DatabaseError


def translate(code: str | None, message: str, function: str | None = None) -> DatabaseError:
    """Build the project error for a driver or PostgREST failure."""
    return error_class_for(code)(message, code=code, function=function)
