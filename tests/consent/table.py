"""The labelled replies (tests/consent/replies.tsv): inbound texts as people send them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TABLE = Path(__file__).with_name("replies.tsv")


@dataclass(frozen=True)
class Row:
    label: str  # opt_out | ambiguous | reply | start | help
    scope: tuple[str, ...] | None  # the channels an opt-out's words cover; None: not pinned
    text: str


def rows() -> list[Row]:
    out = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, scope, text = line.split("\t", 2)
        out.append(Row(label, None if scope == "-" else tuple(scope.split(",")), text))
    return out
