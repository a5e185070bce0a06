"""The embedded Postgres (pgserver) used when no database is configured.

`nightshift dev`, `nightshift migrate` and the tests start a real Postgres 16 under a local
directory, reachable over a Unix socket. It is a development convenience, never used on Modal.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class EmbeddedUnavailable(RuntimeError):
    """pgserver is not installed (it ships with the `embedded` and `dev` extras)."""


def start_embedded(data_dir: str | os.PathLike[str]) -> Any:
    """Start (or join) the embedded server in `data_dir`; returns the pgserver handle.

    The handle's `get_uri()` gives the DSN and `cleanup()` stops the server when this
    process started it. pgserver refuses to run Postgres as root itself, so it manages that.
    """
    try:
        import pgserver  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedUnavailable(
            "no database configured and pgserver is not installed: "
            "set DATABASE_URL or install nightshift[embedded]"
        ) from exc
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" (harmless)
        warnings.simplefilter("ignore")
        server = pgserver.get_server(path, cleanup_mode="stop")  # type: ignore[attr-defined]
    log.info("embedded postgres started", data_dir=str(path))
    return server
