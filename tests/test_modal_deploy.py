"""modal_deploy.py imported offline (no Modal token): every registry job is a cron function
with its schedule, timeout and secret, read back through Modal's own objects."""

from __future__ import annotations

import tomllib
from pathlib import Path

import modal
from croniter import croniter
from fastapi import FastAPI

import modal_deploy
from app.jobs import JOBS

ROOT = Path(__file__).resolve().parents[1]


def test_every_job_is_a_cron_function_with_its_schedule_timeout_and_secret() -> None:
    for job in JOBS:
        function = getattr(modal_deploy, job.name)
        assert isinstance(function, modal.Function)
        info = function.info()
        assert info.schedule == f"Cron('{job.cron}', UTC)"
        assert info.timeout == job.timeout_seconds
        assert info.secrets == [f"modal.Secret.from_name('{modal_deploy.SECRET_NAME}')"]
        assert not info.max_retries  # the next tick is the retry (no doubled retries)


def test_at_most_five_crons_the_starter_plan_limit() -> None:
    scheduled = [
        name
        for name, value in vars(modal_deploy).items()
        if isinstance(value, modal.Function) and value.info().schedule
    ]
    assert sorted(scheduled) == sorted(job.name for job in JOBS)
    assert len(scheduled) <= 5


def test_every_cron_expression_parses() -> None:
    for job in JOBS:
        assert croniter.is_valid(job.cron), job.name
        assert len(job.cron.split()) == 5
        assert job.timeout_seconds < job.period.total_seconds() + job.grace.total_seconds()


def test_web_is_an_asgi_endpoint_serving_the_fastapi_app() -> None:
    info = modal_deploy.web.info()
    assert info.web_info is not None and info.schedule is None
    assert info.secrets == [f"modal.Secret.from_name('{modal_deploy.SECRET_NAME}')"]
    web_app = modal_deploy.web.local()
    assert isinstance(web_app, FastAPI)
    assert "/healthz" in {getattr(r, "path", None) for r in web_app.routes}


def test_image_installs_runtime_dependencies_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = modal_deploy.runtime_dependencies()
    assert deps == project["dependencies"]
    assert not any(d.startswith(("pgserver", "modal", "pytest")) for d in deps)
    assert modal_deploy.PYTHON_VERSION == "3.11"


def test_the_deployed_image_runs_in_production_mode() -> None:
    """Set in the image, not only in the secret: a secret without NIGHTSHIFT_ENV must not turn
    the deployment into a dry run that marks real customers' messages done."""
    assert modal_deploy.RUNTIME_ENV == {"NIGHTSHIFT_ENV": "production"}
    source = (ROOT / "modal_deploy.py").read_text()
    assert ".env(RUNTIME_ENV)" in source.split("image = (", 1)[1].split("\n)\n", 1)[0]
