"""`python -m app.cli`: the same entry point as the `nightshift` console script."""

from app.cli.main import main

main()
