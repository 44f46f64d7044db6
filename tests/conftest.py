"""Shared fixtures: real databases (SQLite and PostgreSQL), the app with its lifespan, a client.

The suite runs every database-backed test once per backend named in TEST_DATABASES
(default `sqlite,postgres`). PostgreSQL gets a fresh database with a unique name per run,
dropped at the end. Tests go through the real commit path; tables are emptied after each test.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from uuid_utils.compat import uuid7

from app.core.config import Settings, load_settings
from app.db.migrate import upgrade_to_head
from app.main import create_app
from app.models import Base
from tests.support import observed_statuses
from tests.support.jobs import settle_jobs
from tests.support.redis_keys import delete_keys, unique_key_prefix
from tests.support.smtp import MailSink
from tests.support.xdist_scheduling import make_scheduler

BACKENDS = [name.strip() for name in os.environ.get("TEST_DATABASES", "sqlite,postgres").split(",") if name]
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
# The PostgreSQL user the test apps connect as (created by the first migration that needs it).
TEST_API_ROLE = os.environ.get("TEST_POSTGRES_API_ROLE", "invoicer_api_test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BROKER_URL = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    return make_scheduler(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Per database backend (none first), the `slow` tests first; otherwise the order stays.

    Under pytest-xdist the slow tests are the longest units of work: started early, they run
    while the other worker takes the many short tests, instead of one worker finishing alone.
    Kept together per backend, each worker migrates each backend's database once.
    """

    def backend(item: pytest.Item) -> int:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("database_url") if callspec else None
        return BACKENDS.index(name) + 1 if name in BACKENDS else 0

    items.sort(key=lambda item: (backend(item), item.get_closest_marker("slow") is None))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def postgres_database(prefix: str = "invoicer_test") -> AsyncIterator[str]:
    """A brand-new PostgreSQL database for the duration of the block."""
    name = f"{prefix}_{uuid7().hex[-12:]}"
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated database per backend, shared by the whole run."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'invoicer.db'}"
        await upgrade_to_head(url)
        yield url
    elif request.param == "postgres":
        async with postgres_database() as url:
            await upgrade_to_head(url, api_role=TEST_API_ROLE)
            yield url
    else:
        raise pytest.UsageError(f"unknown backend in TEST_DATABASES: {request.param}")


def app_database(url: str) -> dict[str, str]:
    """The settings of an app on the test database at `url` (the owner's URL).

    On PostgreSQL the app connects as TEST_API_ROLE, which owns nothing, so row-level security
    binds it as in production; tests write their fixtures as the owner.
    """
    if not url.startswith("postgresql"):
        return {"database_url": url}
    api_url = make_url(url).set(username=TEST_API_ROLE).render_as_string(hide_password=False)
    return {"database_url": api_url, "migration_database_url": url}


def settings_for_test(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "log_level": "WARNING",
        # Never a developer's ./var/mail: the file transport, if used, writes under a temp dir.
        "mail_dir": str(Path(tempfile.gettempdir()) / "invoicer-test-mail"),
        # Likewise attachments; a test that counts stored objects passes its own directory.
        "storage_local_dir": str(Path(tempfile.gettempdir()) / "invoicer-test-attachments"),
        # OWASP's floor rather than the production default: hundreds of hashes per run, and
        # no test depends on their cost (tests/api/test_passwords.py raises them on purpose).
        "password_hash_memory_kib": 19_456,
        "password_hash_time_cost": 2,
    }
    values.update(overrides)
    return load_settings(**values)


@asynccontextmanager
async def running_app(
    app: FastAPI,
    *,
    client_address: tuple[str, int] = ("127.0.0.1", 50000),
    base_url: str = "http://testserver",
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and talk to it over ASGI, as a server would."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client_address)

        # Each status is later checked against the OpenAPI document (pytest_sessionfinish below).
        # Jobs the request started (a queued email) run in this process (JOB_RUNNER=in_process):
        # a response is handed to the test once they have, as if the worker were instant.
        async def settle(_response: httpx.Response) -> None:
            await settle_jobs(app)

        hooks = {"response": [observed_statuses.record, settle]}
        async with httpx.AsyncClient(transport=transport, base_url=base_url, event_hooks=hooks) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def empty_tables(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(table.delete())
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[MailSink]:
    sink = MailSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def mail(smtp_server: MailSink) -> MailSink:
    """The real SMTP server every test app sends to, emptied for each test."""
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def settings(database_url: str, mail: MailSink) -> Settings:
    return settings_for_test(**app_database(database_url), **smtp_settings(mail))


def smtp_settings(sink: MailSink) -> dict[str, Any]:
    return {"email_transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": sink.port}


@pytest.fixture
def redis_key_prefix() -> str:
    """This test's namespace in Redis (REDIS_KEY_PREFIX): empty at the start, deleted at the end."""
    return unique_key_prefix()


@pytest.fixture
async def make_client(
    database_url: str, mail: MailSink, redis_key_prefix: str
) -> AsyncIterator[ClientFactory]:
    """`async with make_client(**setting_overrides, configure=fn) as client:` for one test.

    Every app of the test shares its Redis key prefix (replicas of one deployment); at
    teardown the tables are emptied and the keys under that prefix deleted.
    """
    written: set[tuple[str, str]] = set()

    @asynccontextmanager
    async def factory(
        configure: Callable[[FastAPI], None] | None = None,
        client_address: tuple[str, int] = ("127.0.0.1", 50000),
        base_url: str = "http://testserver",
        **overrides: Any,
    ) -> AsyncIterator[httpx.AsyncClient]:
        if "database_url" not in overrides:
            overrides.update(app_database(database_url))
        overrides.setdefault("redis_key_prefix", redis_key_prefix)
        for name, value in smtp_settings(mail).items():
            overrides.setdefault(name, value)
        settings = settings_for_test(**overrides)
        if settings.redis_url is not None:
            written.add((settings.redis_url.get_secret_value(), settings.redis_key_prefix))
        app = create_app(settings)
        if configure is not None:
            configure(app)
        async with running_app(app, client_address=client_address, base_url=base_url) as client:
            yield client

    try:
        yield factory
        await empty_tables(database_url)
    finally:
        for redis_url, prefix in written:
            # A drill's private or unreachable Redis may be gone by now: it took its keys along.
            with contextlib.suppress(RedisConnectionError):
                await delete_keys(redis_url, prefix)


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as client:
        yield client


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"


# --- every status the API tests saw is one the OpenAPI document declares ------------------

UNDECLARED_STATUSES = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    observed_statuses.start(is_controller=not hasattr(config, "workerinput"))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    observed_statuses.save()
    if hasattr(session.config, "workerinput"):
        return  # the controller checks what every worker saw
    seen = observed_statuses.collect_and_clean_up()
    if not seen or session.testsfailed:
        return  # a failed run is already red, and a broken app may not serve its document
    from tests.support.openapi import served_openapi  # here: it imports this module

    undeclared = observed_statuses.undeclared(served_openapi(), seen)
    if undeclared:
        session.config.stash[UNDECLARED_STATUSES] = undeclared
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    undeclared = config.stash.get(UNDECLARED_STATUSES, [])
    if undeclared:
        terminalreporter.section("statuses seen that the OpenAPI document does not declare", red=True)
        for line in undeclared:
            terminalreporter.write_line(line)
