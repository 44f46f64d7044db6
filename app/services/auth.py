"""Signing in: password login, rotating refresh tokens, browser sessions.

A session is one signed-in device and one refresh-token family. Every refresh rotates the
token; presenting a used token again revokes the whole family (see `sessions` for sign-out,
`principals` for who is calling on later requests).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.email_address import normalize_email
from app.core.errors import (
    EmailNotVerifiedError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    RefreshTokenReusedError,
)
from app.core.security.csrf import new_csrf_token
from app.core.security.jwt import AccessTokenCodec
from app.core.security.opaque import hash_token, new_token
from app.core.security.passwords import PasswordHasher
from app.core.security.revocation import RevocationStore
from app.db.session import Database
from app.models import AuthSession, RefreshToken, User
from app.models.base import new_id, utcnow
from app.services.login_throttle import LoginThrottle
from app.services.sessions import end_sessions_over_cap, revoke_sessions

# The columns' sizes.
USER_AGENT_MAX_LENGTH = 400
IP_ADDRESS_MAX_LENGTH = 64
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Statements of the sign-in hot path, built once: constructing and coercing a statement per
# request costs more than executing its cached compiled form (bench/login.py).
_CREDENTIALS = select(
    User.id, User.password_hash, User.is_active, User.email_verified_at, User.password_changed_at
).where(User.email == bindparam("email"))
_SESSIONS = AuthSession.metadata.tables[AuthSession.__tablename__]
_USERS = User.metadata.tables[User.__tablename__]
# The account as it was when its password was checked: still active, verified, and with the
# same credential (a password reset or change sets `password_changed_at`).
_ACCOUNT_UNCHANGED = and_(
    _USERS.c.id == bindparam("user_id"),
    _USERS.c.is_active.is_(True),
    _USERS.c.email_verified_at.is_not(None),
    _USERS.c.password_changed_at.is_not_distinct_from(bindparam("seen_password_changed_at")),
)
# INSERT ... SELECT FROM users WHERE <unchanged> FOR SHARE: the session exists only if the
# account is unchanged at the moment it is written, and the share lock makes a concurrent
# deactivation or password change wait for this sign-in to commit, then end its session too
# (on SQLite, writers are serialized and the one statement is atomic).
_INSERT_SESSION = insert(_SESSIONS).from_select(
    [
        "id",
        "user_id",
        "kind",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip_address",
        "cookie_hash",
    ],
    select(
        bindparam("session_id", type_=_SESSIONS.c.id.type),
        _USERS.c.id,
        bindparam("session_kind", type_=_SESSIONS.c.kind.type),
        bindparam("session_now", type_=_SESSIONS.c.created_at.type),
        bindparam("session_now", type_=_SESSIONS.c.last_used_at.type),
        bindparam("session_expires_at", type_=_SESSIONS.c.expires_at.type),
        bindparam("session_user_agent", type_=_SESSIONS.c.user_agent.type),
        bindparam("session_ip_address", type_=_SESSIONS.c.ip_address.type),
        bindparam("session_cookie_hash", type_=_SESSIONS.c.cookie_hash.type),
    )
    .where(_ACCOUNT_UNCHANGED)
    .with_for_update(read=True),
)
_UPGRADE_HASH = update(_USERS).where(_ACCOUNT_UNCHANGED).values(password_hash=bindparam("new_hash"))
_INSERT_REFRESH_TOKEN = insert(RefreshToken.metadata.tables[RefreshToken.__tablename__])


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a sign-in came from, as stored on its session and shown in the session list."""

    ip_address: str | None
    user_agent: str | None

    @classmethod
    def of(cls, *, ip_address: str | None, user_agent: str | None) -> ClientInfo:
        """Bounded and clean before they reach a column: the client controls both.

        The address is kept only if it parses as one (behind a misconfigured proxy it could
        be any header text); the user agent loses control characters and is cut to its column.
        """
        try:
            address = str(ipaddress.ip_address(ip_address)) if ip_address else None
        except ValueError:
            address = None
        if address is not None and len(address) > IP_ADDRESS_MAX_LENGTH:  # an IPv6 zone id can be long
            address = None
        agent = _CONTROL_CHARACTERS.sub("", user_agent or "")[:USER_AGENT_MAX_LENGTH].strip()
        return cls(ip_address=address, user_agent=agent or None)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class BrowserSession:
    session_id: uuid.UUID
    cookie_token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class _Authenticated:
    """An account whose password was just checked, and its credential at that moment."""

    user_id: uuid.UUID
    password_changed_at: datetime | None
    upgraded_hash: str | None


# --- password sign-in ----------------------------------------------------------------------


async def _authenticate(
    *,
    database: Database,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    email: str,
    password: str,
    client: ClientInfo,
) -> _Authenticated:
    """Check a password without holding a database connection while hashing.

    The account is read on a connection of its own, without a transaction, and returned to
    the pool before the hash (`Database.autocommit`, one of its named uses); the request's
    transaction starts only when the session is written. Wrong password, unknown account and
    disabled account fail identically (same error, and a real argon2 verify on every path).
    The attempt is counted before the hash runs, so concurrent guesses cannot outrun the
    throttle.
    """
    email = normalize_email(email)
    await throttle.reserve_attempt(email=email, client_ip=client.ip_address)
    async with database.autocommit() as connection:
        row = (await connection.execute(_CREDENTIALS, {"email": email})).first()
    valid, upgraded_hash = await hasher.verify(password, row.password_hash if row else None)
    if row is None or not valid or not row.is_active:
        raise InvalidCredentialsError
    if row.email_verified_at is None:
        raise EmailNotVerifiedError
    await throttle.forgive_account(email=email)
    return _Authenticated(
        user_id=row.id, password_changed_at=row.password_changed_at, upgraded_hash=upgraded_hash
    )


@dataclass(frozen=True, slots=True)
class _OpenedSession:
    id: uuid.UUID
    expires_at: datetime


async def _open_session(
    session: AsyncSession,
    *,
    account: _Authenticated,
    kind: Literal["token", "browser"],
    client: ClientInfo,
    revocations: RevocationStore,
    settings: Settings,
    cookie_hash: str | None = None,
) -> _OpenedSession:
    """The write half of a sign-in: a new session row, if the account is still as checked.

    The hash took a while: meanwhile the account may have been deactivated or its password
    reset or changed. The session is written only if it was not, in one statement (see
    `_INSERT_SESSION`); otherwise the sign-in fails like a wrong password.

    Plain statements rather than ORM objects: this runs once per sign-in, next to a password
    hash, and the unit-of-work flush was the largest non-hash cost (bench/login.py).
    """
    unchanged = {"user_id": account.user_id, "seen_password_changed_at": account.password_changed_at}
    if account.upgraded_hash is not None:  # hashing parameters rose since this hash was made
        # First, so the exclusive row lock comes before the share lock below: two concurrent
        # upgrades then queue instead of deadlocking on each other's share locks.
        await session.execute(_UPGRADE_HASH, {**unchanged, "new_hash": account.upgraded_hash})
    now = utcnow()
    opened = _OpenedSession(
        id=new_id(), expires_at=now + timedelta(seconds=settings.refresh_token_absolute_ttl_seconds)
    )
    inserted = await session.execute(
        _INSERT_SESSION,
        {
            **unchanged,
            "session_id": opened.id,
            "session_kind": kind,
            "session_now": now,
            "session_expires_at": opened.expires_at,
            "session_user_agent": client.user_agent,
            "session_ip_address": client.ip_address,
            "session_cookie_hash": cookie_hash,
        },
    )
    if inserted.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidCredentialsError
    await end_sessions_over_cap(session, revocations=revocations, settings=settings, user_id=account.user_id)
    return opened


async def _add_refresh_token(
    session: AsyncSession,
    *,
    session_id: uuid.UUID,
    session_expires_at: datetime,
    parent_id: uuid.UUID | None,
    settings: Settings,
) -> str:
    token = new_token()
    now = utcnow()
    idle_expiry = now + timedelta(seconds=settings.refresh_token_idle_ttl_seconds)
    await session.execute(
        _INSERT_REFRESH_TOKEN,
        {
            "id": new_id(),
            "session_id": session_id,
            "parent_id": parent_id,
            "token_hash": hash_token(token),
            "created_at": now,
            "expires_at": min(idle_expiry, session_expires_at),
        },
    )
    return token


async def login(
    *,
    session: AsyncSession,
    database: Database,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    codec: AccessTokenCodec,
    revocations: RevocationStore,
    settings: Settings,
    email: str,
    password: str,
    client: ClientInfo,
) -> TokenPair:
    """A token sign-in: the password checked (see `_authenticate`), then the session written in
    the request's transaction, which first touches the database after the hash."""
    account = await _authenticate(
        database=database, hasher=hasher, throttle=throttle, email=email, password=password, client=client
    )
    auth_session = await _open_session(
        session, account=account, kind="token", client=client, revocations=revocations, settings=settings
    )
    refresh_token = await _add_refresh_token(
        session,
        session_id=auth_session.id,
        session_expires_at=auth_session.expires_at,
        parent_id=None,
        settings=settings,
    )
    return TokenPair(
        access_token=codec.issue(user_id=account.user_id, session_id=auth_session.id, now=utcnow()),
        refresh_token=refresh_token,
        expires_in=int(codec.ttl.total_seconds()),
    )


async def refresh(
    *,
    session: AsyncSession,
    codec: AccessTokenCodec,
    revocations: RevocationStore,
    settings: Settings,
    refresh_token: str,
) -> TokenPair:
    """Rotate: the presented token is spent, a new one (same family) is returned.

    A token presented twice means it leaked (RFC 9700 §4.14.2): the whole family is revoked,
    and that revocation is committed although the request fails. Two concurrent refreshes
    with one token are the same case: the conditional UPDATE lets exactly one spend it, the
    other is a second presentation. The server cannot tell the thief from the owner, so it
    ends the session whichever order the requests arrive in.
    """
    now = utcnow()
    row = (
        await session.execute(
            select(RefreshToken, AuthSession, User.is_active)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .join(User, User.id == AuthSession.user_id)
            .where(RefreshToken.token_hash == hash_token(refresh_token))
        )
    ).first()
    if row is None:
        raise InvalidRefreshTokenError
    token, auth_session, account_active = row
    if auth_session.revoked_at is not None or auth_session.expires_at <= now or not account_active:
        raise InvalidRefreshTokenError
    if token.used_at is not None:
        await revoke_sessions(
            session, revocations=revocations, settings=settings, session_ids=[auth_session.id]
        )
        raise RefreshTokenReusedError
    if token.expires_at <= now:
        raise InvalidRefreshTokenError
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # spent meanwhile by a concurrent request
        await revoke_sessions(
            session, revocations=revocations, settings=settings, session_ids=[auth_session.id]
        )
        raise RefreshTokenReusedError
    # The session was live when read, but a sign-out everywhere, a password change or a
    # deactivation may have ended it since. Touching it conditionally takes its row lock: if
    # the revocation committed first, nothing is touched and the refresh fails; if it comes
    # later, it waits for this commit and then ends the session (and its new access token).
    touched = await session.execute(
        update(AuthSession)
        .where(AuthSession.id == auth_session.id, AuthSession.revoked_at.is_(None))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if touched.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidRefreshTokenError
    new_refresh = await _add_refresh_token(
        session,
        session_id=auth_session.id,
        session_expires_at=auth_session.expires_at,
        parent_id=token.id,
        settings=settings,
    )
    return TokenPair(
        access_token=codec.issue(user_id=auth_session.user_id, session_id=auth_session.id, now=now),
        refresh_token=new_refresh,
        expires_in=int(codec.ttl.total_seconds()),
    )


# --- browser sessions ----------------------------------------------------------------------


async def start_browser_session(
    *,
    session: AsyncSession,
    database: Database,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    revocations: RevocationStore,
    settings: Settings,
    email: str,
    password: str,
    client: ClientInfo,
) -> BrowserSession:
    account = await _authenticate(
        database=database, hasher=hasher, throttle=throttle, email=email, password=password, client=client
    )
    cookie_token = new_token()
    auth_session = await _open_session(
        session,
        account=account,
        kind="browser",
        client=client,
        revocations=revocations,
        settings=settings,
        cookie_hash=hash_token(cookie_token),
    )
    return BrowserSession(
        session_id=auth_session.id,
        cookie_token=cookie_token,
        csrf_token=new_csrf_token(settings.secret_key.get_secret_value(), auth_session.id),
        expires_at=auth_session.expires_at,
    )
