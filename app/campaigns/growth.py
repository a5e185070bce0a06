"""The `growth` loop body.

NOT BUILT YET: issue #7 delivers the real work: scores leads, learns best call times and A/B
winners; the daily digest is issue #8.
Until then the body is the registry's pending placeholder, so the schedule, the single-flight
lease, the job_runs heartbeat and the failure path are exercised end to end.
"""

from app.jobs import pending_body

run = pending_body("growth", issue=7)
