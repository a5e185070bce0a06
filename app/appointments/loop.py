"""The `appointments` loop body.

NOT BUILT YET: issue #8 delivers the real work: sends confirmations, reminders and no-show
follow-ups.
Until then the body is the registry's pending placeholder, so the schedule, the single-flight
lease, the job_runs heartbeat and the failure path are exercised end to end.
"""

from app.jobs import pending_body

run = pending_body("appointments", issue=8)
