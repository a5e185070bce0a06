"""The `campaign_manager` loop body.

NOT BUILT YET: issue #4 delivers the real work: enrolls leads, paces and caps volume, guards
deliverability, queues calls.
Until then the body is the registry's pending placeholder, so the schedule, the single-flight
lease, the job_runs heartbeat and the failure path are exercised end to end.
"""

from app.jobs import pending_body

run = pending_body("campaign_manager", issue=4)
