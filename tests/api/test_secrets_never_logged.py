"""An error in the middle of a sign-in logs what failed, never the secrets involved.

The test owns its database, so it makes the database itself fail: a trigger refuses the
INSERT of a refresh token or browser session, or the UPDATE of a password hash, exactly where
the statement carries a token hash or a password hash. The request's password, the tokens and
their hashes must then appear nowhere in the log, in either log format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.security.opaque import hash_token
from app.services import auth as auth_service
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, login
from tests.support.factories import account_with_tokens, make_user
from tests.support.rows import stored_hash
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a brand new passphrase 2026"
TRIGGER_MESSAGE = "refused by a test trigger"
Event = Literal["INSERT", "UPDATE OF password_hash"]


@asynccontextmanager
async def refusing(database_url: str, table: str, event: Event) -> AsyncIterator[None]:
    """Statements of `event` on `table` fail inside the database until the block ends."""
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    sqlite = database_url.startswith("sqlite")
    try:
        async with engine.connect() as connection:
            if sqlite:
                await connection.execute(
                    text(
                        f"CREATE TRIGGER test_refuse BEFORE {event} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, '{TRIGGER_MESSAGE}'); END"
                    )
                )
            else:
                await connection.execute(
                    text(
                        "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                        f"$$ BEGIN RAISE EXCEPTION '{TRIGGER_MESSAGE}'; END $$"
                    )
                )
                await connection.execute(
                    text(
                        f"CREATE TRIGGER test_refuse BEFORE {event} ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
                    )
                )
        yield
    finally:
        async with engine.connect() as connection:
            if sqlite:
                await connection.execute(text("DROP TRIGGER IF EXISTS test_refuse"))
            else:
                await connection.execute(text(f"DROP TRIGGER IF EXISTS test_refuse ON {table}"))
                await connection.execute(text("DROP FUNCTION IF EXISTS test_refuse()"))
        await engine.dispose()


@dataclass
class KnownTokens:
    """Makes the opaque tokens of sign-ins known to the test, so it can look for them."""

    issued: list[str] = field(default_factory=list)

    def __call__(self) -> str:
        token = f"known-opaque-token-{len(self.issued):04d}-{'q' * 20}"
        self.issued.append(token)
        return token

    def secrets(self) -> list[str]:
        return [value for token in self.issued for value in (token, hash_token(token))]


@pytest.fixture
def known_tokens(monkeypatch: pytest.MonkeyPatch) -> KnownTokens:
    tokens = KnownTokens()
    monkeypatch.setattr(auth_service, "new_token", tokens)
    return tokens


@dataclass
class Case:
    """One failing request: the app it runs on, and the secrets that it and the database hold."""

    make_client: ClientFactory
    mail: MailSink
    database_url: str
    log_format: str
    secrets: list[str] = field(default_factory=list)

    def client(self, **overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return self.make_client(log_level="INFO", log_format=self.log_format, **overrides)


async def token_sign_in(case: Case) -> httpx.Response:
    async with case.client() as client:
        await make_user(client, "token@example.com")
        case.secrets += [PASSWORD, await stored_hash(case.database_url, "token@example.com")]
        async with refusing(case.database_url, "refresh_tokens", "INSERT"):
            return await login(client, "token@example.com")


async def token_refresh(case: Case) -> httpx.Response:
    async with case.client() as client:
        tokens = await account_with_tokens(client, "refresh@example.com")
        case.secrets += [tokens["refresh_token"], tokens["access_token"]]
        async with refusing(case.database_url, "refresh_tokens", "INSERT"):
            return await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})


async def browser_sign_in(case: Case) -> httpx.Response:
    async with case.client() as client:
        await make_user(client, "browser@example.com")
        case.secrets += [PASSWORD]
        async with refusing(case.database_url, "auth_sessions", "INSERT"):
            return await client.post(
                "/api/v1/auth/session", json={"email": "browser@example.com", "password": PASSWORD}
            )


async def rehash_on_sign_in(case: Case) -> httpx.Response:
    """The app's hashing parameters rose since the account was made: a sign-in rewrites it."""
    await make_user(case.database_url, "rehash@example.com")
    case.secrets += [PASSWORD, await stored_hash(case.database_url, "rehash@example.com")]
    async with (
        case.client(password_hash_time_cost=3) as client,
        refusing(case.database_url, "users", "UPDATE OF password_hash"),
    ):
        return await login(client, "rehash@example.com")


async def password_reset(case: Case) -> httpx.Response:
    async with case.client() as client:
        await make_user(client, "reset@example.com")
        await client.post("/api/v1/auth/password/forgot", json={"email": "reset@example.com"})
        reset_token = case.mail.last_to("reset@example.com").token()
        case.secrets += [reset_token, hash_token(reset_token), NEW_PASSWORD]
        async with refusing(case.database_url, "users", "UPDATE OF password_hash"):
            return await client.post(
                "/api/v1/auth/password/reset", json={"token": reset_token, "new_password": NEW_PASSWORD}
            )


Scenario = Callable[[Case], Awaitable[httpx.Response]]
SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "token sign-in": (token_sign_in, "refresh_tokens"),
    "refresh": (token_refresh, "refresh_tokens"),
    "browser sign-in": (browser_sign_in, "auth_sessions"),
    "rehash on sign-in": (rehash_on_sign_in, "users"),
    "password reset": (password_reset, "users"),
}


@pytest.mark.parametrize("log_format", ["json", "console"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_database_error_logs_no_secret(
    make_client: ClientFactory,
    mail: MailSink,
    database_url: str,
    known_tokens: KnownTokens,
    capfd: pytest.CaptureFixture[str],
    scenario: str,
    log_format: str,
) -> None:
    run, table = SCENARIOS[scenario]
    case = Case(make_client=make_client, mail=mail, database_url=database_url, log_format=log_format)
    capfd.readouterr()
    response = await run(case)
    output = capfd.readouterr().err
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "unhandled_exception" in output  # the failure was logged...
    assert f"INSERT INTO {table}" in output or f"UPDATE {table}" in output  # ...with its statement
    for secret in [*case.secrets, *known_tokens.secrets()]:
        assert secret not in output, f"{scenario}: a secret reached the {log_format} log"
    assert "$argon2id$" not in output


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_a_unique_violation_on_a_token_hash_logs_no_key_value(
    make_client: ClientFactory,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    log_format: str,
) -> None:
    """PostgreSQL explains a duplicate key with its value: `Key (token_hash)=(...) already exists`."""
    token = "the-same-opaque-token-every-time-0123456789"
    monkeypatch.setattr(auth_service, "new_token", lambda: token)
    async with make_client(log_level="INFO", log_format=log_format) as client:
        await make_user(client, "twice@example.com")
        assert (await login(client, "twice@example.com")).status_code == 200
        capfd.readouterr()
        second = await login(client, "twice@example.com")  # the same refresh-token hash again
        output = capfd.readouterr().err
    assert second.status_code == 500
    assert hash_token(token) not in output  # not the key's value...
    assert token not in output
    assert PASSWORD not in output
    assert "INSERT INTO refresh_tokens" in output  # ...but what happened, and where
    if not database_url.startswith("sqlite"):
        assert "sqlstate=23505" in output
        assert "constraint=uq_refresh_tokens_token_hash" in output


class Issued(BaseModel):
    access_token: str
    expires_in: int


def add_broken_token_route(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/broken-token-response", response_model=Issued)
    async def broken() -> dict[str, object]:
        # A response model refuses this: the error names the field and, unscrubbed, the input.
        return {"access_token": BROKEN_RESPONSE_TOKEN, "refresh_token": BROKEN_RESPONSE_TOKEN}

    app.include_router(router)


BROKEN_RESPONSE_TOKEN = "a-token-in-a-response-that-fails-validation-0123"


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_a_response_validation_error_logs_no_input(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str], log_format: str
) -> None:
    async with make_client(configure=add_broken_token_route, log_format=log_format) as client:
        capfd.readouterr()
        response = await client.get("/broken-token-response")
        output = capfd.readouterr().err
    assert response.status_code == 500
    assert "ResponseValidationError" in output
    assert "expires_in: Field required [type=missing]" in output  # what was wrong, and where
    assert BROKEN_RESPONSE_TOKEN not in output


PATH_SECRET = "a-token-someone-put-in-a-path-0123456789"


def add_exploding_route(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/explode/{token}")
    async def explode(token: str) -> None:
        raise RuntimeError("boom")

    app.include_router(router)


async def test_an_unhandled_error_logs_the_route_template_not_the_path(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    async with make_client(configure=add_exploding_route, log_format="json") as client:
        capfd.readouterr()
        response = await client.get(f"/explode/{PATH_SECRET}")
        output = capfd.readouterr().err
    assert response.status_code == 500
    assert '"route":"/explode/{token}"' in output
    assert PATH_SECRET not in output
