"""modal_deploy.py imported offline (no Modal token): every registry job is a cron function
with its schedule, timeout and secret, read back through Modal's own objects; the image installs
requirements.lock, which stays in step with pyproject.toml; deploy.yml waits for a green ci."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import modal
import pytest
import yaml
from croniter import croniter
from fastapi import FastAPI
from packaging.version import Version

import modal_deploy
from app.jobs import JOBS
from tests.lockfile import LOCK_COMMAND, lock_problems, parse_lock

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


def test_image_installs_the_hashed_lock_and_nothing_else() -> None:
    image_block = (ROOT / "modal_deploy.py").read_text().split("image = (", 1)[1]
    image_block = image_block.split("\n)\n", 1)[0]
    assert ".pip_install_from_requirements(str(LOCK_FILE), extra_options=PIP_LOCK_OPTIONS)" in (
        image_block
    )
    assert ".pip_install(" not in image_block and "uv_pip_install" not in image_block
    assert modal_deploy.LOCK_FILE == ROOT / "requirements.lock"
    assert modal_deploy.PIP_LOCK_OPTIONS.split() == ["--require-hashes", "--no-deps"]
    assert modal_deploy.PYTHON_VERSION == "3.11"


def test_the_deployed_image_runs_in_production_mode() -> None:
    """Set in the image, not only in the secret: a secret without NIGHTSHIFT_ENV must not turn
    the deployment into a dry run that marks real customers' messages done."""
    assert modal_deploy.RUNTIME_ENV["NIGHTSHIFT_ENV"] == "production"
    source = (ROOT / "modal_deploy.py").read_text()
    assert ".env(RUNTIME_ENV)" in source.split("image = (", 1)[1].split("\n)\n", 1)[0]


def test_the_image_ships_the_agents_folder_where_settings_look_for_it() -> None:
    """The growth job publishes training knowledge from the agents' definitions (agents/):
    without the folder in the image every AGENTS_AUTO_PUBLISH run would fail."""
    image_block = (ROOT / "modal_deploy.py").read_text().split("image = (", 1)[1]
    assert '.add_local_dir(ROOT / "agents", remote_path=AGENTS_REMOTE)' in image_block
    assert modal_deploy.RUNTIME_ENV["AGENTS_DIR"] == modal_deploy.AGENTS_REMOTE
    assert (ROOT / "agents" / "sarah.yaml").is_file()


# --- requirements.lock: the Modal image's pins, in step with pyproject.toml -----------------


def _runtime_dependencies() -> list[str]:
    deps: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    return deps


def test_the_lock_is_in_step_with_pyprojects_runtime_dependencies() -> None:
    deps = _runtime_dependencies()
    assert not any(d.startswith(("pgserver", "modal", "pytest")) for d in deps)
    problems = lock_problems(deps, (ROOT / "requirements.lock").read_text())
    assert not problems, (
        "requirements.lock (the Modal image's pins) is out of step with pyproject.toml:\n  "
        + "\n  ".join(problems)
        + f"\nRegenerate it with `make lock`, i.e. `{LOCK_COMMAND}`, and commit it."
    )


def test_the_lock_records_the_command_that_regenerates_it() -> None:
    lock_header = (ROOT / "requirements.lock").read_text().splitlines()[:2]
    assert lock_header[1].strip("# ") == LOCK_COMMAND
    makefile = (ROOT / "Makefile").read_text().replace("\\\n\t", "")
    assert f"LOCK_CMD := {LOCK_COMMAND}" in makefile
    assert "\t$(BIN)/$(LOCK_CMD)" in makefile.split("\nlock:", 1)[1]


def _edited(deps: list[str], old: str, new: str | None) -> list[str]:
    """pyproject's list after an engineer's edit (old entry by name; None deletes it)."""
    index = next(i for i, d in enumerate(deps) if d.startswith(old))
    return deps[:index] + ([new] if new else []) + deps[index + 1 :]


def test_a_dependency_added_without_relocking_is_named() -> None:
    deps = [*_runtime_dependencies(), "sentry-sdk>=2.0"]
    problems = lock_problems(deps, (ROOT / "requirements.lock").read_text())
    assert problems == ["sentry-sdk>=2.0 (pyproject.toml) is not pinned in requirements.lock"]


def test_a_removed_dependency_and_what_only_it_needed_are_named() -> None:
    deps = _edited(_runtime_dependencies(), "twilio", None)
    problems = lock_problems(deps, (ROOT / "requirements.lock").read_text())
    twilio = [p for p in problems if p.startswith("requirements.lock pins twilio")]
    assert twilio == ["requirements.lock pins twilio for pyproject.toml, which no longer lists it"]
    # aiohttp-retry came only through twilio; httpx still comes from pyproject itself.
    assert "requirements.lock pins aiohttp-retry, which no dependency needs any more" in problems
    assert not any(p.startswith("requirements.lock pins httpx") for p in problems)


def test_a_raised_lower_bound_outside_the_pin_is_named() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    pinned = Version(parse_lock(lock)["httpx"].version)
    bumped = f"httpx>={pinned.major}.{pinned.minor + 1}"  # "we need the new minor's API"
    problems = lock_problems(_edited(_runtime_dependencies(), "httpx", bumped), lock)
    assert problems == [f"requirements.lock pins httpx=={pinned}, outside {bumped}"]


def test_a_pin_without_hashes_is_named() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    unhashed = re.sub(r"(?m)^(tenacity==\S+) \\\n(    --hash=\S+( \\)?\n)+", r"\1\n", lock)
    assert unhashed != lock
    assert lock_problems(_runtime_dependencies(), unhashed) == [
        "tenacity has no --hash in requirements.lock"
    ]


def test_a_package_an_extra_needs_missing_from_the_lock_is_named() -> None:
    """psycopg[binary]: the C build the image imports; without it psycopg falls back to libpq,
    which debian_slim lacks, and every container fails at its first query."""
    lock = (ROOT / "requirements.lock").read_text()
    pinned, installed = parse_lock(lock)["psycopg"].version, metadata.version("psycopg")
    if installed != pinned:
        pytest.skip(f"extras are read from installed metadata: psycopg {installed} != {pinned}")
    without_binary = re.sub(r"(?m)^psycopg-binary==.*\n(    .*\n)+", "", lock)
    assert "psycopg-binary==" not in without_binary
    (problem,) = lock_problems(_runtime_dependencies(), without_binary)
    assert problem.startswith("psycopg[binary]")
    assert problem.endswith("needs psycopg-binary, not pinned in requirements.lock")


# --- .github/workflows/deploy.yml: only a commit whose tests passed reaches production -------


def _workflow(name: str) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((ROOT / ".github/workflows" / name).read_text())
    loaded["on"] = loaded.pop(True, loaded.get("on"))  # YAML 1.1 reads a bare `on` as true
    return loaded


def test_deploy_waits_for_a_successful_ci_run_of_a_push_to_main() -> None:
    ci, deploy = _workflow("ci.yml"), _workflow("deploy.yml")
    assert set(ci["jobs"]) >= {"lint", "test"} and "push" in ci["on"]
    # Triggered by ci's completion only: no `push` trigger that would race the tests.
    assert deploy["on"] == {
        "workflow_run": {"workflows": [ci["name"]], "types": ["completed"], "branches": ["main"]}
    }
    job = deploy["jobs"]["deploy"]
    gate = {clause.strip() for clause in job["if"].split("&&")}
    assert gate == {
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.event == 'push'",
        "github.event.workflow_run.head_branch == 'main'",
        "github.event.workflow_run.head_repository.full_name == github.repository",
    }
    assert deploy["concurrency"] == "modal-deploy-prod" and job["environment"] == "production"


def test_deploy_ships_the_commit_ci_tested_migrating_first() -> None:
    job = _workflow("deploy.yml")["jobs"]["deploy"]
    tested = "${{ github.event.workflow_run.head_sha }}"
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["ref"] == tested
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs[-2:] == [
        "nightshift migrate",
        'modal deploy --env prod --tag "$TESTED_SHA" modal_deploy.py',
    ]
    assert job["env"]["TESTED_SHA"] == tested
    steps = (ROOT / ".github/workflows/deploy.yml").read_text().split("steps:", 1)[1]
    assert "GITHUB_SHA" not in steps  # main's newest commit here, maybe not the tested one
