"""Opt-out classifier: precision, recall and the confusion table on the labelled replies.

Reads `tests/consent/replies.tsv` (inbound texts as people send them, labelled by what they
mean), runs `app.consent.revocation.classify` on each as an SMS, and prints:
- opt-out recall (opt-outs classified as opt-outs) and precision (of what was classified as
  an opt-out, how much was one), and the share of benign replies flagged as opt-outs;
- how often an opt-out came out as a plain reply (the dangerous miss) or merely held;
- the confusion table (labels down, verdicts across) and every row that disagrees.

    .venv/bin/python bench/optout_classifier.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.consent.revocation import classify  # noqa: E402

TABLE = ROOT / "tests" / "consent" / "replies.tsv"
KINDS = ("opt_out", "ambiguous", "reply", "start", "help")


def rows(path: Path = TABLE) -> list[tuple[str, str, str]]:
    """(label, scope, text) for every labelled row; comments and blank lines skipped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, scope, text = line.split("\t", 2)
        out.append((label, scope, text))
    return out


def main() -> None:
    table = rows()
    confusion: Counter[tuple[str, str]] = Counter()
    misses = []
    for label, _scope, text in table:
        kind = classify(text, "sms").kind
        confusion[(label, kind)] += 1
        if kind != label:
            misses.append((label, kind, text))
    labels = Counter(label for label, _, _ in table)
    flagged = sum(n for (_, kind), n in confusion.items() if kind == "opt_out")
    hit = confusion[("opt_out", "opt_out")]
    print(f"table: {TABLE.relative_to(ROOT)}  rows: {len(table)}  "
          + "  ".join(f"{k}: {labels[k]}" for k in KINDS))  # fmt: skip
    print(f"opt-out recall:    {hit}/{labels['opt_out']} = {hit / labels['opt_out']:.3f}")
    print(f"opt-out precision: {hit}/{flagged} = {hit / flagged:.3f}")
    benign = confusion[("reply", "opt_out")]
    print(f"benign replies flagged as opt-out: {benign}/{labels['reply']} "
          f"= {benign / labels['reply']:.3f}")  # fmt: skip
    print(f"opt-outs treated as a reply: {confusion[('opt_out', 'reply')]}; "
          f"held as ambiguous: {confusion[('opt_out', 'ambiguous')]}")  # fmt: skip
    print("\nconfusion (label down, verdict across)")
    print(f"{'':>10} " + " ".join(f"{k:>9}" for k in KINDS))
    for label in KINDS:
        print(f"{label:>10} " + " ".join(f"{confusion[(label, k)]:>9}" for k in KINDS))
    print(f"\ndisagreements: {len(misses)}")
    for label, kind, text in misses:
        print(f"  {label:>9} -> {kind:<9} {text}")


if __name__ == "__main__":
    main()
