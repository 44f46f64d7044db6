"""`invoicer` command line: serve, worker, scheduler, migrate, seed-demo, grant-platform-admin, set-feature,
check-config."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from app.core.config import Settings, SettingsError, load_settings, redacted_settings
from app.core.config.settings import listening_url
from app.core.logging import configure_logging, get_logger

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

cli = typer.Typer(help="Invoicer: a multi-tenant invoicing API.", no_args_is_help=True, add_completion=False)
logger = get_logger("invoicer.cli")


def _settings(**overrides: Any) -> Settings:
    """Validated settings, or one readable message and exit status 2."""
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from None
    configure_logging(level=settings.log_level, log_format=settings.effective_log_format)
    return settings


def _in_unit_of_work(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """A command's one transaction: the same unit of work as a request's, opened from outside."""
    from app.db.session import Database
    from app.db.session.tenancy import system_scope

    async def run() -> T:
        database = Database(settings)
        try:
            async with database.unit_of_work() as session:
                await system_scope(session, "cli")
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default: HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: WORKERS).")] = None,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when app/ changes (development: one process).")
    ] = False,
) -> None:
    """Serve the API with uvicorn (proxy headers, graceful shutdown, our own access log).

    What it reads from clients is bounded: header size and time, connections (app/server.py).
    """
    import uvicorn

    from app.server import OpenFileLimitError, ensure_open_file_limit, uvicorn_options

    # The options go through the same validation as HOST, PORT and WORKERS (several workers
    # need Redis), and reach the worker processes, which load their settings from the
    # environment: the address served is also where emailed links point by default.
    options = {"host": host, "port": port, "workers": workers}
    settings = _settings(**{name: value for name, value in options.items() if value is not None})
    worker_count = settings.workers
    if reload and (worker_count > 1 or settings.is_production_like):
        # uvicorn's reloader supervises one process; a reloading production server is a mistake.
        typer.echo(
            "--reload runs one process in dev or test: not with WORKERS above 1, staging or prod.", err=True
        )
        raise typer.Exit(code=2)
    os.environ.update(HOST=settings.host, PORT=str(settings.port), WORKERS=str(worker_count))
    try:
        ensure_open_file_limit(settings)
    except OpenFileLimitError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=2) from None
    if worker_count > 1:
        _share_metrics_between_workers()
    url = listening_url(settings.host, settings.port)
    logger.info(
        "serving",
        url=url,
        docs=f"{url}/docs" if settings.effective_docs_enabled else None,
        emailed_links=settings.public_base_url,
        env=settings.app_env,
    )
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=worker_count,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=math.ceil(settings.graceful_shutdown_timeout),  # never 0 for 0.5
        access_log=False,  # one line per request comes from AccessLogMiddleware
        log_config=None,  # keep our structlog pipeline
        server_header=False,
        reload=reload,
        reload_dirs=[str(Path(__file__).resolve().parent)] if reload else None,
        **uvicorn_options(settings),
    )


def _share_metrics_between_workers() -> None:
    """Each worker writes its metrics under one directory, so a scrape of any adds them all up.

    prometheus_client reads the variable when a worker imports it, so it is set here, before
    uvicorn starts them; an operator's own directory is kept (it must be emptied at start).
    """
    from app.core.metrics import MULTIPROCESS_DIR_VARIABLE

    if not os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        os.environ[MULTIPROCESS_DIR_VARIABLE] = tempfile.mkdtemp(prefix="invoicer-metrics-")


@cli.command()
def worker() -> None:
    """Run jobs from the broker (BROKER_URL), the outbox relay and the sweeper, until SIGTERM."""
    from app.tasks.worker import run_worker

    settings = _settings()
    if settings.effective_job_runner != "worker":
        typer.echo("`invoicer worker` needs BROKER_URL (the embedded mode runs jobs in the API).", err=True)
        raise typer.Exit(code=2)
    asyncio.run(run_worker(settings))


@cli.command()
def scheduler() -> None:
    """Send the periodic tasks on their schedules to the broker, until SIGTERM (safe to run twice)."""
    from app.tasks.worker import run_scheduler

    settings = _settings()
    if settings.effective_job_runner != "worker":
        typer.echo("`invoicer scheduler` needs BROKER_URL (embedded: the API schedules).", err=True)
        raise typer.Exit(code=2)
    asyncio.run(run_scheduler(settings))


@cli.command()
def migrate() -> None:
    """Apply every pending migration (uses MIGRATION_DATABASE_URL, else DATABASE_URL)."""
    from app.db.migrate import upgrade_to_head

    settings = _settings()
    asyncio.run(
        upgrade_to_head(settings.effective_migration_database_url, api_role=settings.separate_api_role)
    )
    logger.info("migrated_to_head")


@cli.command("seed-demo")
def seed_demo() -> None:
    """Create the demo organizations and users (idempotent; dev and test only)."""
    from app.core.security.passwords import PasswordHasher
    from app.services.demo import seed_demo_data
    from app.services.demo_billing import DEMO_BOOKS

    settings = _settings()
    if settings.is_production_like:
        typer.echo("seed-demo only runs with APP_ENV=dev or test.", err=True)
        raise typer.Exit(code=2)
    hasher = PasswordHasher.from_settings(settings)
    summary = _in_unit_of_work(
        settings, lambda session: seed_demo_data(session=session, hasher=hasher, settings=settings)
    )
    # One transaction per organization: a session bound to one never switches to another.
    books = [_in_unit_of_work(settings, functools.partial(_seed_book, slug=slug)) for slug in DEMO_BOOKS]
    typer.echo("\n".join([summary, "Invoicing:", *books]))


async def _seed_book(session: AsyncSession, *, slug: str) -> str:
    from app.services.demo_billing import seed_demo_billing

    return await seed_demo_billing(session=session, slug=slug)


@cli.command("set-feature")
def set_feature(
    org_slug: Annotated[str, typer.Argument(help="The organization's slug.")],
    feature: Annotated[str, typer.Argument(help="The feature (see docs/permissions.md).")],
    state: Annotated[str, typer.Argument(help="on, off, or default (drop the override).")],
) -> None:
    """Switch a feature on or off for one organization, or back to the deployment's default."""
    from app.core.features import Feature
    from app.services.features import set_flag

    known = [item.value for item in Feature]
    if feature not in known or state not in ("on", "off", "default"):
        typer.echo(f"FEATURE is one of {', '.join(known)}; STATE is on, off or default.", err=True)
        raise typer.Exit(code=2)
    enabled = None if state == "default" else state == "on"
    done = _in_unit_of_work(
        _settings(),
        lambda session: set_flag(
            session=session, org_slug=org_slug, feature=Feature(feature), enabled=enabled
        ),
    )
    if not done:
        typer.echo(f"No organization with the slug {org_slug}.", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{feature} is {state} for {org_slug}.")


@cli.command("grant-platform-admin")
def grant_platform_admin(
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Withdraw the flag instead.")] = False,
) -> None:
    """Make an account a platform administrator (may deactivate users), or stop it being one."""
    from app.services.platform_admin import set_platform_admin

    settings = _settings()
    granted = _in_unit_of_work(
        settings, lambda session: set_platform_admin(session=session, email=email, granted=not revoke)
    )
    if not granted:
        typer.echo(f"No account with the address {email}.", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{email} {'is no longer' if revoke else 'is now'} a platform administrator.")


@cli.command("check-config")
def check_config() -> None:
    """Print the effective settings, secrets redacted; exit 2 if they are unusable."""
    settings = _settings()
    typer.echo(json.dumps(redacted_settings(settings), indent=2, default=str))


def main() -> None:
    cli(prog_name="invoicer")


if __name__ == "__main__":
    main()
