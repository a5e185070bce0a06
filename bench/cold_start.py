"""Cold start: what each Modal function imports before it can work, in a fresh interpreter.

For the web function (`app.modal_entry.web_app()`, which builds the FastAPI app) and each
cron job (the run wrapper plus the job's loop body), a new `python` process imports them and
reports the wall time; `-X importtime` says whether heavy libraries (scikit-learn, numpy)
came along. Each figure is the median of 5 runs. Target: the web function under 0.8 s.

    .venv/bin/python bench/cold_start.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sklearn", "numpy", "scipy", "pandas")

TARGETS = {
    "web": "from app.modal_entry import web_app; web_app()",
    **{
        job: "import app.modal_entry, app.jobs.runner; from app.jobs import get_job; "
        f"get_job('{job}').body()"
        for job in ("drip", "campaign_manager", "growth", "guardian", "appointments")
    },
}


def seconds(code: str) -> float:
    """Seconds to run `code` in a fresh interpreter (imports included)."""
    timed = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    result = subprocess.run(
        [sys.executable, "-c", timed], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def heavy_imports(code: str) -> list[str]:
    """The heavy libraries `code` imports (`-X importtime`, run separately: it slows imports)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    return sorted(name for name in HEAVY if name in imported)


def main() -> None:
    print(f"{'function':<18} {'import s (median of 5)':>22}  heavy libraries imported")
    for name, code in TARGETS.items():
        median = statistics.median(seconds(code) for _ in range(5))
        print(f"{name:<18} {median:>22.2f}  {', '.join(heavy_imports(code)) or '-'}")


if __name__ == "__main__":
    main()
