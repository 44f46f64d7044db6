"""Accounts: sign-up, email verification, password reset and change, the user's profile."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.config import Settings
from app.core.email_address import normalize_email
from app.core.errors import ConflictError, InvalidInputError, InvalidOneTimeTokenError, NotFoundError
from app.core.permissions import Role
from app.core.security.opaque import hash_token, new_token
from app.core.security.passwords import PasswordHasher, password_problems
from app.core.security.principal import Principal
from app.core.security.revocation import RevocationStore
from app.db.session import Database
from app.db.session.tenancy import bind_user, scope_of, system_scope
from app.models import Membership, OneTimeToken, Organization, TokenPurpose, User
from app.models.base import utcnow
from app.services import emails
from app.services.emails import Mailer, RecipientQuota
from app.services.login_throttle import LoginThrottle
from app.services.sessions import lock_account, revoke_user_sessions


def check_new_password(settings: Settings, password: str, *, field: str, email: str | None = None) -> None:
    problems = password_problems(
        password,
        min_length=settings.password_min_length,
        max_length=settings.password_max_length,
        email=email,
    )
    if problems:
        raise InvalidInputError(["body", field], "; ".join(problems), "password_policy")


def check_signup(settings: Settings, *, email: str, password: str) -> None:
    """The part of a sign-up the caller is told about: the password policy (422)."""
    check_new_password(settings, password, field="password", email=normalize_email(email))


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:60] or "org"


async def _issue_one_time_token(
    session: AsyncSession, *, user_id: uuid.UUID, sent_to: str, purpose: TokenPurpose, ttl_seconds: int
) -> str:
    token = new_token()
    now = utcnow()
    session.add(
        OneTimeToken(
            user_id=user_id,
            sent_to=sent_to,
            purpose=purpose,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    return token


async def _consume_one_time_token(session: AsyncSession, *, token: str, purpose: TokenPurpose) -> User:
    """Spend an emailed token and return its account, locked for the change the token allows.

    Refused (all alike): an unknown token, one of another purpose, a used or expired one, one
    whose account is deactivated, and one sent to an address the account no longer has. The
    conditional UPDATE spends it atomically: of two concurrent uses only one succeeds.
    """
    token_hash = hash_token(token)
    user_id = await session.scalar(select(OneTimeToken.user_id).where(OneTimeToken.token_hash == token_hash))
    user = await lock_account(session, user_id) if user_id is not None else None
    if user is None or not user.is_active:
        raise InvalidOneTimeTokenError
    now = utcnow()
    spent = await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.token_hash == token_hash,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > now,
            OneTimeToken.sent_to == user.email,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidOneTimeTokenError
    return user


async def invalidate_password_reset_links(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Every outstanding reset link of the account dies (reset, change, deactivation)."""
    await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user_id,
            OneTimeToken.purpose == TokenPurpose.RESET_PASSWORD,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def signup(
    *,
    session: AsyncSession,
    hasher: PasswordHasher,
    mailer: Mailer,
    quota: RecipientQuota,
    settings: Settings,
    email: str,
    password: str,
    full_name: str,
    organization_name: str,
) -> None:
    """Create user, organization and owner membership, and email a verification link.

    A taken email gets a notice by email instead. Run after the response is sent (see the
    router), once `check_signup` has passed: the caller sees the same answer, at the same
    speed, whether the address was new or taken.
    """
    email = normalize_email(email)
    check_signup(settings, email=email, password=password)
    # Hash before touching the database: no connection is held while hashing.
    password_hash = await hasher.hash(password)
    slug = slugify(organization_name)
    # The new organization and its owner are written before anyone can be bound to them.
    await system_scope(session, "signup")
    for _attempt in range(3):
        if await session.scalar(select(User.id).where(User.email == email)) is not None:
            if await quota.allow(email):
                mailer.send_later(
                    session, emails.signup_attempt_notice(to=email, base_url=settings.public_base_url)
                )
            return
        if await session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
            slug = f"{slugify(organization_name)[:53]}-{secrets.token_hex(3)}"
        try:
            async with session.begin_nested():
                user = User(email=email, full_name=full_name, password_hash=password_hash)
                organization = Organization(name=organization_name, slug=slug)
                session.add_all([user, organization])
                await session.flush()
                session.add(Membership(user_id=user.id, org_id=organization.id, role=Role.OWNER))
                await session.flush()
            break
        except IntegrityError:
            # A concurrent sign-up took the email or the slug between our checks and the insert:
            # look again (the email check answers the first case, a new suffix the second).
            slug = f"{slugify(organization_name)[:53]}-{secrets.token_hex(3)}"
    else:
        raise ConflictError("Could not create the organization; please retry.")
    token = await _issue_one_time_token(
        session,
        user_id=user.id,
        sent_to=email,
        purpose=TokenPurpose.VERIFY_EMAIL,
        ttl_seconds=settings.email_verification_ttl_seconds,
    )
    if await quota.allow(email):
        mailer.send_later(
            session, emails.verification_email(to=email, base_url=settings.public_base_url, token=token)
        )


async def verify_email(*, session: AsyncSession, token: str) -> None:
    user = await _consume_one_time_token(session, token=token, purpose=TokenPurpose.VERIFY_EMAIL)
    user.email_verified_at = user.email_verified_at or utcnow()


async def request_password_reset(
    *, session: AsyncSession, mailer: Mailer, quota: RecipientQuota, settings: Settings, email: str
) -> None:
    """Email a reset link if the account exists and is active.

    Run after the response is sent (see the router): the caller learns nothing from the
    answer or its timing about whether the address has an account.
    """
    email = normalize_email(email)
    user_id = await session.scalar(select(User.id).where(User.email == email, User.is_active.is_(True)))
    if user_id is None or not await quota.allow(email):
        return
    token = await _issue_one_time_token(
        session,
        user_id=user_id,
        sent_to=email,
        purpose=TokenPurpose.RESET_PASSWORD,
        ttl_seconds=settings.password_reset_ttl_seconds,
    )
    mailer.send_later(
        session, emails.password_reset_email(to=email, base_url=settings.public_base_url, token=token)
    )


async def reset_password(
    *,
    session: AsyncSession,
    database: Database,
    hasher: PasswordHasher,
    revocations: RevocationStore,
    throttle: LoginThrottle,
    mailer: Mailer,
    settings: Settings,
    token: str,
    new_password: str,
) -> None:
    """Set a new password from an emailed token: every session and every other reset link ends.

    The token's account is looked up first, without a transaction, so the new password is
    checked against its email before the hash, and no connection is held while hashing.
    """
    async with database.autocommit() as connection:
        email = await connection.scalar(
            select(User.email)
            .join(OneTimeToken, OneTimeToken.user_id == User.id)
            .where(
                OneTimeToken.token_hash == hash_token(token),
                OneTimeToken.purpose == TokenPurpose.RESET_PASSWORD,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > utcnow(),
            )
        )
    if email is None:
        raise InvalidOneTimeTokenError
    check_new_password(settings, new_password, field="new_password", email=email)
    password_hash = await hasher.hash(new_password)
    user = await _consume_one_time_token(session, token=token, purpose=TokenPurpose.RESET_PASSWORD)
    now = utcnow()
    user.password_hash = password_hash
    user.password_changed_at = now
    # Following the emailed link proves control of the address.
    user.email_verified_at = user.email_verified_at or now
    await invalidate_password_reset_links(session, user_id=user.id)
    await revoke_user_sessions(session, revocations=revocations, settings=settings, user_id=user.id)
    await throttle.forgive_account(email=user.email)
    mailer.send_later(session, emails.password_changed_notice(to=user.email))


async def change_password(
    *,
    session: AsyncSession,
    database: Database,
    hasher: PasswordHasher,
    revocations: RevocationStore,
    throttle: LoginThrottle,
    mailer: Mailer,
    settings: Settings,
    principal: Principal,
    client_ip: str | None,
    current_password: str,
    new_password: str,
    sign_out_other_sessions: bool,
) -> None:
    """Needs the current password, checked under the sign-in throttle.

    The account is read without a transaction (`Database.autocommit`) before the hashing; the
    request's transaction starts only after it.
    """
    async with database.autocommit() as connection:
        account = (
            await connection.execute(
                select(User.email, User.password_hash, User.password_changed_at).where(
                    User.id == principal.user_id
                )
            )
        ).first()
    if account is None:
        raise NotFoundError("No such user.")
    await throttle.reserve_attempt(email=account.email, client_ip=client_ip)
    valid, _ = await hasher.verify(current_password, account.password_hash)
    if not valid:
        raise InvalidInputError(["body", "current_password"], "is incorrect", "invalid_password")
    await throttle.forgive_account(email=account.email)
    check_new_password(settings, new_password, field="new_password", email=account.email)
    new_hash = await hasher.hash(new_password)
    # Conditional on the credential just verified: a reset or another change meanwhile wins.
    changed = await session.execute(
        update(User)
        .where(
            User.id == principal.user_id,
            User.password_changed_at.is_not_distinct_from(account.password_changed_at),
        )
        .values(password_hash=new_hash, password_changed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError("The password was changed meanwhile; sign in again and retry.")
    await invalidate_password_reset_links(session, user_id=principal.user_id)
    if sign_out_other_sessions:
        await revoke_user_sessions(
            session,
            revocations=revocations,
            settings=settings,
            user_id=principal.user_id,
            keep=principal.session_id,
        )
    mailer.send_later(session, emails.password_changed_notice(to=account.email))


async def get_user(*, session: AsyncSession, user_id: uuid.UUID) -> User:
    """The account with its own memberships (and nobody else's)."""
    if scope_of(session) is None:
        await bind_user(session, user_id)
    user = await session.scalar(
        select(User)
        .where(User.id == user_id)
        .options(selectinload(User.memberships).joinedload(Membership.organization))
    )
    if user is None:
        raise NotFoundError("No such user.")
    return user


async def update_user(*, session: AsyncSession, user_id: uuid.UUID, changes: dict[str, Any]) -> User:
    """Apply only the fields that were sent (PATCH)."""
    user = await get_user(session=session, user_id=user_id)
    if "full_name" in changes:
        user.full_name = str(changes["full_name"])
    await session.flush()
    return user


__all__ = [
    "change_password",
    "get_user",
    "request_password_reset",
    "reset_password",
    "signup",
    "update_user",
    "verify_email",
]
