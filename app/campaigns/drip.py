"""The `drip` loop body.

NOT BUILT YET: issue #4 delivers the real work: claims due enrollment steps, gates, renders,
writes the outbox row and sends.
Until then the body is the registry's pending placeholder, so the schedule, the single-flight
lease, the job_runs heartbeat and the failure path are exercised end to end.
"""

from app.jobs import pending_body

run = pending_body("drip", issue=4)
