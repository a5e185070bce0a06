"""Structured logging (structlog): key=value lines locally, JSON on Modal.

Job runs bind `job` and `run_id` with `structlog.contextvars`, so every line a run writes
carries them. Secrets are `SecretStr` in settings and never reach a log call.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

_configured = False


class _StderrLogger:
    """Writes each rendered line to whatever sys.stderr is *now* (not the stream that was
    current at configuration time, which a test runner or CLI harness may have closed)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*args: object) -> _StderrLogger:
    return _StderrLogger()


def configure(level: str = "INFO", *, json: bool | None = None) -> None:
    """Configure structlog once per process; `json` defaults to True inside Modal."""
    global _configured
    if _configured:
        return
    if json is None:
        json = bool(os.environ.get("MODAL_TASK_ID"))
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=True,
    )
    _configured = True
