"""What sending alerts uses, unpacked from the graph: `alert_dispatch(ctx)` for
`flush_alerts` (the guardian each run, and `run_job` at the end of a run that raised an
alert) and `direct_line(ctx)` for `page_directly` (the database-down page)."""

from __future__ import annotations

from app.alerts import AlertDispatch
from app.alerts.direct import DirectLine
from app.alerts.pager_memory import pager_memory_for
from app.jobs.bootstrap import Context


def alert_dispatch(ctx: Context) -> AlertDispatch:
    """What `flush_alerts` uses, from the graph."""
    providers = {"email": ctx.providers.email.name, "sms": ctx.providers.sms.name}
    return AlertDispatch(ctx.repos, ctx.providers.delivery, providers, ctx.alerts.policy, ctx.clock)


def direct_line(ctx: Context) -> DirectLine:
    """What `page_directly` uses (no database), from the graph; its memory lives in the
    webhook spool's store (app/alerts/pager_memory.py)."""
    memory = pager_memory_for(ctx.spool, ctx.settings)
    return DirectLine(ctx.providers.sms, ctx.providers.email, ctx.alerts.policy, ctx.clock,
                      memory=memory)  # fmt: skip
