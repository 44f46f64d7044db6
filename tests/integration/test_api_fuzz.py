"""Every operation in the OpenAPI document, fuzzed by schemathesis against the real server.

Valid and invalid inputs generated from the schema itself, sent to `invoicer serve` in both
modes (SQLite and memory; PostgreSQL and Redis) with a platform administrator's token.
Whatever arrives, the answer must never be a 5xx, must be one of the statuses the document
declares for that operation, with the declared content type (`application/problem+json` for
errors) and a body that matches the declared schema; input the schema forbids is refused.

Every operation that needs a signed-in caller must also succeed (2xx) at least once per mode:
otherwise its handler was never reached, only the authentication in front of it. Where success
needs server-side state no generator can guess (a session's id, another user's id, the current
password), some of the valid cases carry the real value.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from uuid_utils.compat import uuid7

from app.db.migrate import upgrade_to_head
from app.main import create_app
from tests.conftest import (
    BACKENDS,
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    TEST_API_ROLE,
    app_database,
    settings_for_test,
)
from tests.support.fuzz_tenants import TenantValues
from tests.support.live_server import invoicer, start_server, wait_until_ready
from tests.support.network import free_port
from tests.support.redis_keys import delete_keys, unique_key_prefix
from tests.support.routes import PUBLIC_OPERATIONS

pytestmark = pytest.mark.slow

FUZZ_REDIS_URL = os.environ.get("TEST_FUZZ_REDIS_URL", REDIS_URL)
ADMIN_EMAIL = "owner@acme.example.com"
# A seeded user without platform rights: the one the admin routes may deactivate and reactivate.
MEMBER_EMAIL = "member@acme.example.com"
PASSWORD = "a demo password for the fuzzer"
MIN_PASSWORD_LENGTH = settings_for_test().password_min_length
PASSWORD_PADDING = "".join(chr(ord("a") + index % 26) for index in range(MIN_PASSWORD_LENGTH))
SHARED_TOKEN_CHECK = ("GET", "/api/v1/users/me")
# Each of these ends the session of the token it is called with, so each call gets a token of
# its own and the shared one keeps working. Sign-out everywhere also ends the shared token's
# session: after it succeeds, the shared token is replaced on purpose.
SESSION_ENDING = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/logout-all"),
    ("DELETE", "/api/v1/auth/session"),
}
ENDS_EVERY_SESSION = ("POST", "/api/v1/auth/logout-all")
END_ONE_SESSION = ("DELETE", "/api/v1/auth/sessions/{session_id}")
CHANGE_PASSWORD = ("POST", "/api/v1/users/me/password")
ADMIN_USER_ROUTES = {
    ("POST", "/api/v1/admin/users/{user_id}/deactivate"),
    ("POST", "/api/v1/admin/users/{user_id}/reactivate"),
}
RATE_LIMIT_POLICIES = (
    "LOGIN",
    "LOGIN_FAILURES_PER_ACCOUNT",
    "LOGIN_FAILURES_PER_IP",
    "SIGNUP",
    "PASSWORD_FORGOT",
    "VERIFY",
    "REFRESH",
    "API",
    "API_ORG",
    "MAIL_PER_RECIPIENT",
)
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

Operation = tuple[str, str]  # (METHOD, path template)


def label(operation: Operation) -> str:
    return " ".join(operation)


def tally(statuses: Counter[int]) -> str:
    return ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))


@dataclass
class LiveApi:
    base_url: str
    member_id: str
    # Changes when the fuzzer's password change succeeds; every later sign-in uses the new one.
    password: str = PASSWORD
    observed: dict[Operation, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    _token: str | None = None
    tenants: TenantValues | None = None
    _valid_cases: Counter[Operation] = field(default_factory=Counter)
    _recent: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    # Per shared token that died: the last calls up to its first 401, among them the one that ended it.
    _token_deaths: dict[str, str] = field(default_factory=dict)

    def sign_in(self) -> str:
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/token",
            data={"username": ADMIN_EMAIL, "password": self.password},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    @property
    def shared_token(self) -> str:
        if self._token is None:
            self._token = self.sign_in()
        return self._token

    def token_for(self, operation: Operation) -> str:
        return self.sign_in() if operation in SESSION_ENDING else self.shared_token

    def sacrificial_session_id(self) -> str:
        """A new session of the admin's, other than the shared token's, for a case to end."""
        token = self.sign_in()
        response = httpx.get(
            f"{self.base_url}/api/v1/auth/sessions",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        [current] = [item["id"] for item in response.json()["items"] if item["current"]]
        session_id: str = current
        return session_id

    def give_known_values(self, case: schemathesis.Case[Any], operation: Operation) -> None:
        """Every other valid case of an operation gets the values only the server knows.

        Invalid cases stay as generated: they test the refusal, which needs no state.
        """
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive:
            return
        self._valid_cases[operation] += 1
        if self._valid_cases[operation] % 2 == 0:
            return
        if self.tenants is not None and self.tenants.handles(operation):
            self.tenants.fill(case, operation)
        elif operation == END_ONE_SESSION:
            case.path_parameters["session_id"] = self.sacrificial_session_id()
        elif operation in ADMIN_USER_ROUTES:
            case.path_parameters["user_id"] = self.member_id
        elif operation == CHANGE_PASSWORD and isinstance(case.body, dict):
            case.body["current_password"] = self.password
            # The schema cannot say the policy's minimum length, and most generated passwords
            # are shorter: lengthen them, keeping the generated characters.
            new_password = str(case.body["new_password"])
            case.body["new_password"] = (
                new_password + PASSWORD_PADDING[: max(0, MIN_PASSWORD_LENGTH - len(new_password))]
            )
        else:
            return
        # Reading `meta` revalidates the edited case: it must still be one the schema allows,
        # or the checks would expect a refusal.
        revalidated = case.meta
        assert revalidated is not None
        assert revalidated.generation.mode.is_positive, case

    def record(self, case: schemathesis.Case[Any], operation: Operation, status: int, token: str) -> None:
        self.observed[operation][status] += 1
        self._recent.append(f"{label(operation)} -> {status}")
        if 200 <= status < 300:
            if operation == ENDS_EVERY_SESSION:
                self._token = None
            elif operation == CHANGE_PASSWORD:
                assert isinstance(case.body, dict)
                self.password = str(case.body["new_password"])
        elif status == 401 and token == self._token and not self._shared_token_works():
            first_401 = self._token_deaths.setdefault(token, ", ".join(self._recent))
            pytest.fail(
                f"The shared token no longer works, so {label(operation)} and every later operation "
                f"would only be fuzzed with a dead token. The calls up to its first 401: {first_401}"
            )

    def _shared_token_works(self) -> bool:
        method, path = SHARED_TOKEN_CHECK
        response = httpx.request(
            method, f"{self.base_url}{path}", headers={"Authorization": f"Bearer {self._token}"}, timeout=10
        )
        return response.status_code != 401

    def problems(self) -> list[str]:
        """What went wrong over the whole run, checked while the server still answers."""
        found = [
            f"{label(operation)} never answered 2xx, so what it does on success went unfuzzed; "
            f"it answered {tally(statuses)}"
            for operation, statuses in sorted(self.observed.items())
            if operation in AUTHENTICATED and not any(200 <= status < 300 for status in statuses)
        ]
        found += [
            f"the shared token died; the calls up to its first 401: {calls}"
            for calls in self._token_deaths.values()
        ]
        if (
            self._token is not None
            and self._token not in self._token_deaths
            and not self._shared_token_works()
        ):
            found.append("the shared token no longer works")
        signed_in = httpx.post(
            f"{self.base_url}/api/v1/auth/token",
            data={"username": ADMIN_EMAIL, "password": self.password},
            timeout=10,
        )
        if signed_in.status_code != 200:
            found.append(f"the admin cannot sign in with the password last set: {signed_in.status_code}")
        return found


def member_id(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/auth/token",
        data={"username": MEMBER_EMAIL, "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    me = httpx.get(
        f"{base_url}/api/v1/users/me",
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
        timeout=10,
    )
    assert me.status_code == 200, me.text
    user_id: str = me.json()["id"]
    return user_id


async def _create_database(name: str) -> str:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await upgrade_to_head(url, api_role=TEST_API_ROLE)
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
    name = f"invoicer_fuzz_{uuid7().hex[-12:]}"
    prefix = unique_key_prefix("fuzz")
    url = asyncio.run(_create_database(name))
    try:
        yield {
            **{name.upper(): value for name, value in app_database(url).items()},
            "REDIS_URL": FUZZ_REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
        }
    finally:
        asyncio.run(_drop_database(name))
        asyncio.run(delete_keys(FUZZ_REDIS_URL, prefix))


@pytest.fixture(scope="module", params=["embedded", "full"])
def live_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """`invoicer serve` in the embedded mode (SQLite, memory) and the full one (PostgreSQL, Redis).

    At teardown, `LiveApi.problems` must be empty: every authenticated operation fuzzed got a 2xx,
    the shared token never died, and the admin can still sign in.
    """
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
            # The fuzzer makes an organization for each case that spends one.
            "MAX_ORGANIZATIONS_PER_USER": "10000",
            "MAX_API_KEYS_PER_ORG": "10000",
            "WEBHOOK_MAX_ENDPOINTS_PER_ORG": "10000",
            "RATE_LIMIT_API_ROUTES": "{}",
        }
        for command in (["seed-demo"], ["grant-platform-admin", ADMIN_EMAIL]):
            result = invoicer(*command, env=env)
            assert result.returncode == 0, result.stderr
        server = start_server(env, read_output=False)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_ready(base_url)
            published = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
            assert published["paths"].keys() == OPENAPI["paths"].keys()
            api = LiveApi(base_url, member_id=member_id(base_url))
            api.tenants = TenantValues(
                base_url,
                owner_database_url=storage.get("MIGRATION_DATABASE_URL", storage["DATABASE_URL"]),
                token=lambda: api.shared_token,
                member_id=api.member_id,
                admin_email=ADMIN_EMAIL,
            )
            yield api
            problems = api.problems()
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert not problems, f"In the {request.param} mode:\n" + "\n".join(f"  {problem}" for problem in problems)


# The document the server publishes, built from the app itself at import time (schemathesis'
# lazy fixture loader does not work with pytest 9); `live_api` checks the server agrees.
OPENAPI = create_app(settings_for_test()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
OPERATIONS = {
    (method.upper(), path): operation
    for path, item in OPENAPI["paths"].items()
    for method, operation in item.items()
    if method in HTTP_METHODS
}
AUTHENTICATED = {
    key for key, operation in OPERATIONS.items() if operation.get("security", OPENAPI.get("security"))
}
# Each operation either needs a token, as the document says, or is one of the public exceptions.
UNACCOUNTED = (OPERATIONS.keys() - AUTHENTICATED) ^ PUBLIC_OPERATIONS
assert not UNACCOUNTED, (
    f"PUBLIC_OPERATIONS and the document's security requirements disagree on {sorted(UNACCOUNTED)}"
)
# A renamed route must not silently drop out of the special handling above.
assert (
    SESSION_ENDING | ADMIN_USER_ROUTES | {END_ONE_SESSION, CHANGE_PASSWORD, SHARED_TOKEN_CHECK}
    <= AUTHENTICATED
)


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
    operation = (case.method.upper(), case.path)
    live_api.give_known_values(case, operation)
    token = live_api.token_for(operation)
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(base_url=live_api.base_url, headers=headers)
    live_api.record(case, operation, response.status_code, token)
    # `call_and_validate`, split so that the status is recorded even when a check fails.
    case.validate_response(
        response,
        headers=headers,
        transport_kwargs={"base_url": live_api.base_url, "headers": headers},
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
            checks.response_headers_conformance,
            checks.negative_data_rejection,
        ],
    )
