"""What the end-of-call report path and the reconciler of lost reports use, unpacked from
the graph (the Vapi webhook and the `campaign_manager` job build them here, one way)."""

from __future__ import annotations

from app.agents.versions import VersionDeps
from app.campaigns.call_reconcile import ReconcileDeps
from app.campaigns.call_report import ReportDeps
from app.campaigns.message_reconcile import BATCH, MessageReconcileDeps
from app.jobs.bootstrap import Context


def report_deps(ctx: Context) -> ReportDeps:
    """What `apply_report` uses, from the graph."""
    return ReportDeps(ctx.repos.webhooks, ctx.clock, ctx.settings, ctx.providers.sms.name)


def reconcile_deps(ctx: Context) -> ReconcileDeps:
    """What `reconcile_calls` uses, from the graph."""
    s = ctx.settings
    return ReconcileDeps(
        report=report_deps(ctx), calls=ctx.providers.calls, delivery=ctx.providers.delivery,
        max_call_seconds=s.vapi_max_call_seconds, after_seconds=s.vapi_reconcile_after_seconds,
        batch=s.vapi_reconcile_batch, failures=ctx.repos.failures,
    )  # fmt: skip


def message_reconcile_deps(ctx: Context) -> MessageReconcileDeps:
    """What `reconcile_messages` uses, from the graph."""
    return MessageReconcileDeps(
        webhooks=ctx.repos.webhooks, sms=ctx.providers.sms, failures=ctx.repos.failures,
        clock=ctx.clock, batch=BATCH,
    )  # fmt: skip


def version_deps(ctx: Context) -> VersionDeps:
    """What the version trials' choice of an assistant uses (inbound assistant-request)."""
    return VersionDeps(ctx.repos.agents, ctx.rng_factory, ctx.clock)
