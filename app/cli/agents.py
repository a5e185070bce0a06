"""`nightshift agents show | diff | push [--dry-run] [--candidate] | rollback NAME VERSION |
publish-knowledge [--dry-run] | status | promote NAME | retire NAME` (docs/agents.md).

Registered in app/cli/main.py as `cli.add_typer(agents_cli, name="agents")`. The agents are
read from AGENTS_DIR (default `agents/`); NAME is a file stem (sarah, john), none = all.
Exit codes: 0 done (diff: also when it shows differences), 1 a Vapi request failed, 2 bad
definitions, configuration or arguments. push, diff and publish-knowledge carry the latest
published training build in every agent's knowledge (app.agents.training.with_training).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import typer

from app.agents.definition import Agent, AgentError, load_agents
from app.agents.figures import figure_lines, figures
from app.agents.render import Target, assistant_body, content_hash, redacted
from app.agents.service import (
    AgentCommandError,
    AgentDeps,
    diff,
    dry_run,
    push,
    rollback,
    set_role,
)
from app.agents.training import publish, with_training
from app.cli.support import with_context
from app.core.settings import Settings, get_settings
from app.jobs.bootstrap import Context
from app.providers.errors import ProviderError
from app.providers.vapi_assistants import VapiAssistantsApi

agents_cli = typer.Typer(
    help="Sarah and John as code: show, diff, push, rollback.", no_args_is_help=True
)
NAME = typer.Argument(None, help="Agent (file stem in AGENTS_DIR, e.g. sarah); all if omitted.")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _chosen(settings: Settings, name: str | None) -> list[Agent]:
    try:
        agents = load_agents(Path(settings.agents_dir))
    except AgentError as exc:
        raise _fail(f"agent definitions are invalid:\n{exc}") from exc
    if name is None:
        return list(agents.values())
    if name not in agents:
        raise _fail(f"no agent {name!r} (known: {', '.join(agents) or 'none'})")
    return [agents[name]]


async def _trained(ctx: Context, agents: list[Agent]) -> list[Agent]:
    """The agents with the published training documents in their knowledge."""
    build = await ctx.repos.agents.published_training()
    return [with_training(a, build) for a in agents]


def _target(settings: Settings) -> Target:
    secret = settings.vapi_webhook_secret
    return Target(settings.public_base_url, secret.get_secret_value() if secret else None)


def _deps(ctx: Context) -> AgentDeps:
    return AgentDeps(ctx.repos.agents, ctx.clock, _target(ctx.settings))


def _api(ctx: Context) -> VapiAssistantsApi:
    if ctx.settings.vapi_api_key is None:
        raise _fail("VAPI_API_KEY is not set (use --dry-run to see the requests)")
    return VapiAssistantsApi(
        ctx.settings.vapi_api_key, client=ctx.providers.client, clock=ctx.clock
    )


def _warnings(settings: Settings, agents: list[Agent]) -> list[str]:
    """maxDurationSeconds above VAPI_MAX_CALL_SECONDS: lost reports are looked for too early."""
    return [
        f"warning: {a.key}: max_duration_seconds {a.spec.max_duration_seconds} > "
        f"VAPI_MAX_CALL_SECONDS {settings.vapi_max_call_seconds}"
        for a in agents
        if a.spec.max_duration_seconds > settings.vapi_max_call_seconds
    ]


@agents_cli.command()
def show(name: str | None = NAME) -> None:
    """The assistant body each agent pushes (secret hidden), its knowledge and versions."""
    settings = get_settings()
    agents = _chosen(settings, name)

    async def work(ctx: Context) -> list[str]:
        lines = []
        for agent in agents:
            body = redacted(assistant_body(agent, _target(settings), "<query tool id>"))
            lines += [
                f"## {agent.key} (content {content_hash(agent, _target(settings))[:12]})",
                *json.dumps(body, indent=2).splitlines(),
            ]
            lines += [f"knowledge: {f.name} ({len(f.content)} bytes)" for f in agent.knowledge]
            for v in await ctx.repos.agents.versions(agent.key):
                lines.append(
                    f"version {v.version}  {v.pushed_at:%Y-%m-%d %H:%M}  "
                    f"{v.vapi_assistant_id}  {v.content_hash[:12]}  {v.note or ''}  ({v.role})"
                )
        return lines

    typer.echo("\n".join(with_context(work)))


@agents_cli.command("diff")
def diff_(name: str | None = NAME) -> None:
    """Differences between the live assistant (Vapi) and the repository's definition."""
    agents = _chosen(get_settings(), name)

    async def work(ctx: Context) -> list[str]:
        api, lines = _api(ctx), []
        for agent in await _trained(ctx, agents):
            found = await diff(agent, _deps(ctx), api)
            lines += found or [f"{agent.key}: no differences"]
        return lines

    typer.echo("\n".join(_guarded(work)))


@agents_cli.command("push")
def push_(
    name: str | None = NAME,
    dry_run_: bool = typer.Option(False, "--dry-run", help="Print the requests; send nothing."),
    candidate: bool = typer.Option(
        False, "--candidate", help="Push as the candidate of a version trial (its own assistant)."
    ),
) -> None:
    """Create or update the assistants, their knowledge files and query tool; record each
    pushed version in the database. With --candidate the definition goes to a second
    assistant and calls are split between it and the current version."""
    settings = get_settings()
    agents = _chosen(settings, name)

    async def work(ctx: Context) -> list[str]:
        lines = _warnings(settings, agents)
        if dry_run_:
            for agent in await _trained(ctx, agents):
                lines += await dry_run(agent, _deps(ctx), candidate=candidate)
            return lines
        api = _api(ctx)
        for agent in await _trained(ctx, agents):
            summary, warnings = await push(agent, _deps(ctx), api, candidate=candidate)
            lines += [summary, *(f"warning: {w}" for w in warnings)]
        return lines

    typer.echo("\n".join(_guarded(work)))


@agents_cli.command("rollback")
def rollback_(
    name: str = typer.Argument(..., help="Agent, e.g. sarah."),
    version: int = typer.Argument(..., help="A version `agents show` lists."),
    dry_run_: bool = typer.Option(False, "--dry-run", help="Print the request; send nothing."),
) -> None:
    """Send an earlier version's assistant again (recorded as a new version)."""
    agent = _chosen(get_settings(), name)[0]

    async def work(ctx: Context) -> list[str]:
        api = None if dry_run_ else _api(ctx)
        summary, lines = await rollback(agent, version, _deps(ctx), api)
        return [summary, *lines]

    typer.echo("\n".join(_guarded(work)))


@agents_cli.command("publish-knowledge")
def publish_knowledge(
    dry_run_: bool = typer.Option(False, "--dry-run", help="Print the diff and requests only."),
) -> None:
    """Publish the newest training build (objection_responses.md,
    call_handling_playbook.md) into every agent's knowledge base, after showing its diff
    with the build before it."""
    agents = _chosen(get_settings(), None)

    async def work(ctx: Context) -> list[str]:
        builds = await ctx.repos.agents.training_builds(1)
        if not builds:
            raise AgentCommandError("no training build yet: the growth job builds one hourly")
        build = builds[0]
        lines = await ctx.repos.agents.training_diff()
        if build.published_at is not None:
            return [f"training version {build.version} is already published"]
        if dry_run_:
            for agent in agents:
                lines += await dry_run(with_training(agent, build), _deps(ctx))
            return lines
        lines += await publish(build, agents, _deps(ctx), _api(ctx))
        return [*lines, f"training version {build.version} published"]

    typer.echo("\n".join(_guarded(work)))


@agents_cli.command()
def status(name: str | None = NAME) -> None:
    """Per agent and version: calls, answered, bookings per call, average call quality and
    P(better) between the current and the candidate version."""

    async def work(ctx: Context) -> list[str]:
        rows = await ctx.repos.agents.version_stats(name)
        return figure_lines(figures(rows))

    typer.echo("\n".join(_guarded(work)))


@agents_cli.command()
def promote(name: str = typer.Argument(..., help="Agent, e.g. sarah.")) -> None:
    """Make the agent's candidate version current (the current one is retired)."""

    async def work(ctx: Context) -> list[str]:
        return [await set_role(name, "promote", _deps(ctx))]

    typer.echo("\n".join(_guarded(work)))


@agents_cli.command()
def retire(name: str = typer.Argument(..., help="Agent, e.g. sarah.")) -> None:
    """Retire the agent's candidate version: it gets no more calls."""

    async def work(ctx: Context) -> list[str]:
        return [await set_role(name, "retire", _deps(ctx))]

    typer.echo("\n".join(_guarded(work)))


def _guarded(work: Callable[[Context], Awaitable[list[str]]]) -> list[str]:
    """`with_context(work)`; a refused command exits 2, a failed Vapi request 1."""
    try:
        return with_context(work)
    except AgentCommandError as exc:
        raise _fail(str(exc)) from exc
    except ProviderError as exc:
        raise _fail(f"Vapi refused or failed: {exc}", 1) from exc
