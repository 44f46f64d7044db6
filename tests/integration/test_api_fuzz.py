"""Every operation in the OpenAPI document, fuzzed by schemathesis against the real server.

Valid and invalid inputs generated from the schema itself, sent to `invoicer serve` in both
modes (SQLite and memory; PostgreSQL and Redis) with a platform administrator's token.
Whatever arrives, the answer must never be a 5xx, must be one of the statuses the document
declares for that operation, with the declared content type (`application/problem+json` for
errors) and a body that matches the declared schema; input the schema forbids is refused.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.migrate import upgrade_to_head
from app.main import create_app
from tests.conftest import BACKENDS, POSTGRES_ADMIN_URL, settings_for_test
from tests.support.live_server import invoicer, start_server, wait_until_ready
from tests.support.network import free_port

pytestmark = pytest.mark.slow

FUZZ_REDIS_URL = os.environ.get("TEST_FUZZ_REDIS_URL", "redis://127.0.0.1:6379/13")
ADMIN_EMAIL = "owner@acme.example.com"
PASSWORD = "a demo password for the fuzzer"
# Operations that end the caller's session get a token of their own, so the rest keep theirs.
SESSION_ENDING = {"/api/v1/auth/logout", "/api/v1/auth/logout-all"}
RATE_LIMIT_POLICIES = (
    "LOGIN",
    "LOGIN_FAILURES_PER_ACCOUNT",
    "LOGIN_FAILURES_PER_IP",
    "SIGNUP",
    "PASSWORD_FORGOT",
    "VERIFY",
    "REFRESH",
)


@dataclass
class LiveApi:
    base_url: str
    _token: str | None = None

    def sign_in(self) -> str:
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/token",
            data={"username": ADMIN_EMAIL, "password": PASSWORD},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def token_for(self, path: str) -> str:
        if path in SESSION_ENDING:
            return self.sign_in()
        if self._token is None:
            self._token = self.sign_in()
        return self._token


async def _create_database(name: str) -> str:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await upgrade_to_head(url)
    return url


async def _drop_database(name: str) -> None:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@contextmanager
def _storage(mode: str, workdir: Path) -> Iterator[dict[str, str]]:
    """Settings for the mode's database (migrated) and Redis."""
    if mode == "embedded":
        url = f"sqlite+aiosqlite:///{workdir / 'fuzz.db'}"
        asyncio.run(upgrade_to_head(url))
        yield {"DATABASE_URL": url}
        return
    name = f"invoicer_fuzz_{os.getpid()}"
    url = asyncio.run(_create_database(name))
    try:
        yield {"DATABASE_URL": url, "REDIS_URL": FUZZ_REDIS_URL}
    finally:
        asyncio.run(_drop_database(name))


@pytest.fixture(scope="module", params=["embedded", "full"])
def live_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """`invoicer serve` in the embedded mode (SQLite, memory) and the full one (PostgreSQL, Redis)."""
    needed = "sqlite" if request.param == "embedded" else "postgres"
    if needed not in BACKENDS:
        pytest.skip(f"TEST_DATABASES leaves out {needed}")
    workdir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    port = free_port()
    unlimited = "1000000/minute"  # the fuzzer tests inputs, not quotas (tests/api/test_rate_limits.py)
    with _storage(request.param, workdir) as storage:
        env = {
            **os.environ,
            **storage,
            "APP_ENV": "test",
            "PORT": str(port),
            "LOG_LEVEL": "ERROR",
            "DEMO_PASSWORD": PASSWORD,
            "EMAIL_TRANSPORT": "file",
            "MAIL_DIR": str(workdir / "mail"),
            "PASSWORD_HASH_MEMORY_KIB": "19456",
            "PASSWORD_HASH_TIME_COST": "2",
            **{f"RATE_LIMIT_{policy}": unlimited for policy in RATE_LIMIT_POLICIES},
        }
        for command in (["seed-demo"], ["grant-platform-admin", ADMIN_EMAIL]):
            result = invoicer(*command, env=env)
            assert result.returncode == 0, result.stderr
        server = start_server(env)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_ready(base_url)
            published = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
            assert published["paths"].keys() == OPENAPI["paths"].keys()
            yield LiveApi(base_url)
        finally:
            server.terminate()
            server.wait(timeout=30)


# The document the server publishes, built from the app itself at import time (schemathesis'
# lazy fixture loader does not work with pytest 9); `live_api` checks the server agrees.
OPENAPI = create_app(settings_for_test()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


@schema.parametrize()
@settings(
    # Kept small for CI; `FUZZ_EXAMPLES=500 make test-postgres` digs deeper.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,  # the same cases on every run: a CI failure reproduces locally
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_contract(case: schemathesis.Case[Any], live_api: LiveApi) -> None:
    case.call_and_validate(
        base_url=live_api.base_url,
        headers={"Authorization": f"Bearer {live_api.token_for(case.path)}"},
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
            checks.response_headers_conformance,
            checks.negative_data_rejection,
        ],
    )
