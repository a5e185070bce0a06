"""The `nightshift` command line: an edge. It parses arguments, opens the graph through
`app.jobs.bootstrap` and calls jobs and domain functions; nothing imports it."""

from app.cli.main import cli, main

__all__ = ["cli", "main"]
