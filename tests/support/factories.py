"""Test data written straight into the database: accounts, organizations, signed-in sessions.

For tests that need an account but are not about signing up or signing in: a sign-up over HTTP
costs an argon2 hash, a mail and three requests, and a sign-in another hash. The rows here are
the ones the services write (a normalised address, an argon2id hash at the test app's
parameters, an owner membership, a session with its refresh token) and the access token comes
from the app's own codec, so the API cannot tell them from the real thing. Sign-up and sign-in
over HTTP keep tests of their own (tests/api/test_signup.py, test_browser_session.py, ...).
"""

from __future__ import annotations

import functools
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.core.config import Settings
from app.core.email_address import normalize_email
from app.core.permissions import Role
from app.core.security.jwt import AccessTokenCodec
from app.core.security.opaque import hash_token, new_token
from app.models import AuthSession, Invitation, Membership, Organization, RefreshToken, User
from app.models.base import new_id, utcnow
from app.services.accounts import slugify
from tests.conftest import settings_for_test
from tests.support.accounts import PASSWORD


@functools.cache
def password_hash(password: str = PASSWORD) -> str:
    """argon2id at the test app's parameters, made once per password and test process.

    The same parameters as `settings_for_test`, so a sign-in verifies it without rehashing.
    """
    settings = settings_for_test()
    hasher = Argon2Hasher(
        memory_cost=settings.password_hash_memory_kib,
        time_cost=settings.password_hash_time_cost,
        parallelism=settings.password_hash_parallelism,
    )
    return PasswordHash((hasher,)).hash(password)


@dataclass(frozen=True)
class MadeUser:
    id: uuid.UUID
    email: str
    org_id: uuid.UUID | None


def _app(client: httpx.AsyncClient) -> Any:
    return client.app  # type: ignore[attr-defined]


def _database_url(database: str | httpx.AsyncClient) -> str:
    if isinstance(database, str):
        return database
    settings: Settings = _app(database).state.settings
    return settings.effective_migration_database_url  # the owner: fixtures are not tenant requests


async def _write(database_url: str, rows: list[Any]) -> None:
    engine = create_async_engine(database_url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            for row in rows:
                session.add(row)
                await session.flush()  # in order: each row's foreign keys point at earlier ones
    finally:
        await engine.dispose()


async def _free_slug(database_url: str, name: str) -> str:
    """`slugify(name)`, suffixed as sign-up does when an organization already has it."""
    slug = slugify(name)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            taken = await connection.scalar(select(Organization.id).where(Organization.slug == slug))
    finally:
        await engine.dispose()
    return slug if taken is None else f"{slug[:53]}-{secrets.token_hex(3)}"


async def make_user(
    database: str | httpx.AsyncClient,
    email: str,
    *,
    password: str = PASSWORD,
    verified: bool = True,
    active: bool = True,
    platform_admin: bool = False,
    full_name: str = "Test User",
    organization: str | None = "Test Org",
    role: Role = Role.OWNER,
) -> MadeUser:
    """An account as sign-up and verification leave it: by default verified, owner of "Test Org".

    `database` is a database URL, or a test client whose app's database is used.
    """
    url = _database_url(database)
    now = utcnow()
    user = User(
        id=new_id(),
        email=normalize_email(email),
        full_name=full_name,
        password_hash=password_hash(password),
        is_active=active,
        is_platform_admin=platform_admin,
        email_verified_at=now if verified else None,
        created_at=now,
        updated_at=now,
    )
    rows: list[Any] = [user]
    org: Organization | None = None
    if organization is not None:
        org = Organization(id=new_id(), name=organization, slug=await _free_slug(url, organization))
        rows += [org, Membership(user_id=user.id, org_id=org.id, role=role)]
    await _write(url, rows)
    return MadeUser(id=user.id, email=user.email, org_id=org.id if org else None)


async def add_membership(
    database: str | httpx.AsyncClient, *, org_id: uuid.UUID, user_id: uuid.UUID, role: Role
) -> None:
    """An existing account joins an organization with `role`."""
    await _write(_database_url(database), [Membership(user_id=user_id, org_id=org_id, role=role)])


async def make_invitation(
    database: str | httpx.AsyncClient, *, org_id: uuid.UUID, email: str, role: Role = Role.MEMBER
) -> str:
    """A pending invitation as `invite` leaves it (without the mail): returns its token."""
    token = new_token()
    invitation = Invitation(
        org_id=org_id,
        email=normalize_email(email),
        role=role,
        token_hash=hash_token(token),
        expires_at=utcnow() + timedelta(days=7),
    )
    await _write(_database_url(database), [invitation])
    return token


async def add_member(
    database: str | httpx.AsyncClient,
    *,
    org_id: uuid.UUID,
    email: str,
    role: Role,
    full_name: str = "Test Member",
    password: str = PASSWORD,
) -> MadeUser:
    """A new verified account that belongs to `org_id` with `role` (and to no other organization)."""
    user = await make_user(database, email, organization=None, full_name=full_name, password=password)
    await _write(_database_url(database), [Membership(user_id=user.id, org_id=org_id, role=role)])
    return MadeUser(id=user.id, email=user.email, org_id=org_id)


async def signed_in(
    client: httpx.AsyncClient,
    user: MadeUser | str,
    *,
    user_agent: str | None = None,
    ip_address: str | None = "127.0.0.1",
) -> dict[str, Any]:
    """The body of a successful `POST /api/v1/auth/token` for `user`, without the request.

    A token session and its first refresh token are written as the sign-in writes them (with
    the app's lifetimes), and the access token is issued by the app's codec. `user` is a made
    user or the address of an existing account. The session cap is not applied here: the next
    real sign-in applies it, as it would after the cap was lowered.
    """
    settings: Settings = _app(client).state.settings
    user_id = (
        user.id
        if isinstance(user, MadeUser)
        else await _user_id(settings.effective_migration_database_url, user)
    )
    rows, body = session_rows(
        client,
        user_id,
        user_agent=user_agent if user_agent is not None else client.headers.get("user-agent"),
        ip_address=ip_address,
    )
    await _write(settings.effective_migration_database_url, rows)
    return body


def session_rows(
    client: httpx.AsyncClient,
    user_id: uuid.UUID,
    *,
    user_agent: str | None = None,
    ip_address: str | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """The rows of a token sign-in (a session and its first refresh token), and the token body."""
    app = _app(client)
    settings: Settings = app.state.settings
    codec: AccessTokenCodec = app.state.services.token_codec
    now = utcnow()
    session = AuthSession(
        id=new_id(),
        user_id=user_id,
        kind="token",
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_absolute_ttl_seconds),
        user_agent=user_agent,
        ip_address=ip_address,
    )
    refresh_token = new_token()
    idle_expiry = now + timedelta(seconds=settings.refresh_token_idle_ttl_seconds)
    refresh = RefreshToken(
        id=new_id(),
        session_id=session.id,
        token_hash=hash_token(refresh_token),
        created_at=now,
        expires_at=min(idle_expiry, session.expires_at),
    )
    body = {
        "access_token": codec.issue(user_id=user_id, session_id=session.id, now=now),
        "token_type": "bearer",
        "expires_in": int(codec.ttl.total_seconds()),
        "refresh_token": refresh_token,
    }
    return [session, refresh], body


def user_row(email: str, *, full_name: str = "Test User", password: str = PASSWORD) -> User:
    """A verified, active account as sign-up and verification leave it."""
    now = utcnow()
    return User(
        id=new_id(),
        email=normalize_email(email),
        full_name=full_name,
        password_hash=password_hash(password),
        is_active=True,
        is_platform_admin=False,
        email_verified_at=now,
        created_at=now,
        updated_at=now,
    )


async def free_slug(database: str | httpx.AsyncClient, name: str) -> str:
    return await _free_slug(_database_url(database), name)


async def write_rows(database: str | httpx.AsyncClient, rows: list[Any]) -> None:
    """Write rows in order, in one transaction, as the tables' owner."""
    await _write(_database_url(database), rows)


async def _user_id(database_url: str, email: str) -> uuid.UUID:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            user_id = await connection.scalar(select(User.id).where(User.email == normalize_email(email)))
    finally:
        await engine.dispose()
    assert user_id is not None, f"no account {email}"
    return user_id


async def account_with_tokens(client: httpx.AsyncClient, email: str, **user: Any) -> dict[str, Any]:
    """`make_user` then `signed_in`: the factory twin of `tokens_for`, for a test that needs a caller."""
    return await signed_in(client, await make_user(client, email, **user))
