"""The `guardian` loop body.

NOT BUILT YET: issue #6 delivers the real work: checks heartbeats and provider health, restarts
stalled jobs, pages on-call.
Until then the body is the registry's pending placeholder, so the schedule, the single-flight
lease, the job_runs heartbeat and the failure path are exercised end to end.
"""

from app.jobs import pending_body

run = pending_body("guardian", issue=6)
