"""The Modal app: one cron function per registry job and one ASGI web endpoint.

A thin shell (modal-examples style): each function is a one-line call into app/.
Deploy: `modal deploy modal_deploy.py` (deploy.yml: once ci passed, after `nightshift migrate`).
Secrets come from the Modal secret `nightshift-secrets` as environment variables; the image
itself sets NIGHTSHIFT_ENV=production (`RUNTIME_ENV`), so a secret that forgets it still
refuses to start without every credential instead of dry-running real customers' messages.
"""

from __future__ import annotations

from pathlib import Path

import modal

from app import jobs as registry

ROOT = Path(__file__).resolve().parent
PYTHON_VERSION = "3.11"
SECRET_NAME = "nightshift-secrets"
AGENTS_REMOTE = "/root/agents"  # the agents as code (agents/): push, training publish
RUNTIME_ENV = {"NIGHTSHIFT_ENV": "production", "AGENTS_DIR": AGENTS_REMOTE}


# pyproject.toml's runtime dependencies pinned with hashes (`make lock`; a test keeps it in
# step). pip refuses any file whose hash is not listed, and --no-deps installs nothing the
# lock does not name: every deploy builds the same packages from the same files.
LOCK_FILE = ROOT / "requirements.lock"
PIP_LOCK_OPTIONS = "--require-hashes --no-deps"

image = (
    modal.Image.debian_slim(python_version=PYTHON_VERSION)
    # Read only when the image is built (at deploy); inside the container it is already built.
    .pip_install_from_requirements(str(LOCK_FILE), extra_options=PIP_LOCK_OPTIONS)
    .env(RUNTIME_ENV)
    # Modal: local sources last. Every file of the package, not only the .py files (Modal's
    # default): the console's Jinja2 templates (app/console/templates/) ship with it.
    .add_local_python_source("app", ignore=[])
    # Sarah and John's definitions and knowledge: the growth job's AGENTS_AUTO_PUBLISH reads them.
    .add_local_dir(ROOT / "agents", remote_path=AGENTS_REMOTE)
)
secrets = [modal.Secret.from_name(SECRET_NAME)]
app = modal.App("nightshift", image=image, secrets=secrets)


def _cron(name: str) -> dict[str, object]:
    job = registry.get_job(name)
    return {"schedule": modal.Cron(job.cron, timezone="UTC"), "timeout": job.timeout_seconds}


# No Modal retries on the crons: the next tick is the retry, and provider calls already
# retry inside one tenacity policy (retrying here too would double it).


@app.function(**_cron("drip"))  # type: ignore[arg-type]
def drip() -> None:
    from app.modal_entry import run_scheduled

    run_scheduled("drip", modal.current_function_call_id())


@app.function(**_cron("campaign_manager"))  # type: ignore[arg-type]
def campaign_manager() -> None:
    from app.modal_entry import run_scheduled

    run_scheduled("campaign_manager", modal.current_function_call_id())


@app.function(**_cron("growth"))  # type: ignore[arg-type]
def growth() -> None:
    from app.modal_entry import run_scheduled

    run_scheduled("growth", modal.current_function_call_id())


@app.function(**_cron("guardian"))  # type: ignore[arg-type]
def guardian() -> None:
    # Not run_scheduled: when the database is down it still pages on-call directly.
    from app.modal_entry import run_guardian

    run_guardian(modal.current_function_call_id())


@app.function(**_cron("appointments"))  # type: ignore[arg-type]
def appointments() -> None:
    from app.modal_entry import run_scheduled

    run_scheduled("appointments", modal.current_function_call_id())


@app.function(timeout=150, scaledown_window=300)
@modal.concurrent(max_inputs=50)
@modal.asgi_app(label="nightshift-web")
def web():  # type: ignore[no-untyped-def]  # Modal requires a sync, nullary factory
    from app.modal_entry import web_app

    return web_app()
