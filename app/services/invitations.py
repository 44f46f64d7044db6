"""Invitations: a member with members:manage invites an address with a role; the emailed,
single-use link is accepted by the signed-in account of that address, or used to sign up
(which proves the address, so the new account is verified).

Each failure has its own code (unknown, expired, revoked, used, another account, already a
member). Spending an invitation is one conditional UPDATE, so of two uses at once only one
succeeds. Only owners invite owners (administrators never make anyone an owner).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.email_address import normalize_email
from app.core.errors import (
    AlreadyMemberError,
    AlreadyRegisteredError,
    ConflictError,
    InvalidInvitationError,
    InvitationExpiredError,
    InvitationRevokedError,
    InvitationUsedError,
    InvitationWrongAccountError,
    NotFoundError,
    OwnerProtectedError,
    RateLimitedError,
)
from app.core.permissions import Role
from app.core.security.opaque import hash_token, new_token
from app.core.security.passwords import PasswordHasher
from app.core.security.principal import Principal
from app.db.session.tenancy import bind_credential, bind_organization
from app.models import Invitation, Membership, Organization, User
from app.models.base import utcnow
from app.services import audit, emails
from app.services.accounts import check_new_password
from app.services.emails import Mailer, RecipientQuota
from app.services.organizations import OrgContext


@dataclass(frozen=True, slots=True)
class InvitationPage:
    items: list[Invitation]
    total: int


@dataclass(frozen=True, slots=True)
class Joined:
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role


async def invite(
    *,
    session: AsyncSession,
    context: OrgContext,
    mailer: Mailer,
    quota: RecipientQuota,
    settings: Settings,
    email: str,
    role: Role,
) -> Invitation:
    """A new pending invitation (replacing a pending one to the same address), emailed."""
    email = normalize_email(email)
    if role is Role.OWNER and context.role is not Role.OWNER:
        raise OwnerProtectedError("Only an owner invites an owner.")
    member = await session.scalar(
        select(Membership.id).join(User, User.id == Membership.user_id).where(User.email == email)
    )
    if member is not None:
        raise AlreadyMemberError(f"{email} already belongs to this organization.")
    now = utcnow()
    pending = (
        Invitation.accepted_at.is_(None) & Invitation.revoked_at.is_(None) & (Invitation.expires_at > now)
    )
    await session.execute(
        update(Invitation)
        .where(pending, Invitation.email == email)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    waiting = await session.scalar(select(func.count()).select_from(Invitation).where(pending))
    if (waiting or 0) >= settings.max_pending_invitations_per_org:
        limit = settings.max_pending_invitations_per_org
        raise ConflictError(f"An organization may have at most {limit} pending invitations.")
    if not await quota.allow(email):
        raise RateLimitedError(
            "Too many emails to this address lately; try again later.",
            headers={"Retry-After": str(quota.retry_after_seconds)},
        )
    token = new_token()
    invitation = Invitation(
        org_id=context.org_id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=context.user_id,
        expires_at=now + timedelta(seconds=settings.invitation_ttl_seconds),
    )
    session.add(invitation)
    await session.flush()
    audit.record(
        session,
        context,
        action="invitation.created",
        target_type="invitation",
        target_id=invitation.id,
        changes={"email": email, "role": role.value},
    )
    mailer.send_later(
        session,
        emails.invitation_email(
            to=email,
            organization=context.organization.name,
            role=role.value,
            base_url=settings.public_base_url,
            token=token,
        ),
    )
    return invitation


async def list_pending(*, session: AsyncSession, limit: int, offset: int) -> InvitationPage:
    now = utcnow()
    pending = select(Invitation).where(
        Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now
    )
    total = await session.scalar(select(func.count()).select_from(pending.subquery()))
    rows = await session.scalars(pending.order_by(Invitation.id.desc()).limit(limit).offset(offset))
    return InvitationPage(items=list(rows), total=total or 0)


async def revoke(*, session: AsyncSession, context: OrgContext, invitation_id: uuid.UUID) -> None:
    revoked = await session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)
        )
        .values(revoked_at=utcnow())
        .returning(Invitation.id)
        .execution_options(synchronize_session=False)
    )
    if revoked.first() is None:
        raise NotFoundError("No such pending invitation.")
    audit.record(
        session, context, action="invitation.revoked", target_type="invitation", target_id=invitation_id
    )


async def accept(*, session: AsyncSession, principal: Principal, token: str) -> Joined:
    """The signed-in account joins, if the invitation was sent to its address."""
    invitation, organization = await _usable(session, token)
    email = await session.scalar(select(User.email).where(User.id == principal.user_id))
    if email != invitation.email:
        raise InvitationWrongAccountError("This invitation was sent to another email address.")
    return await _join(session, invitation, organization, user_id=principal.user_id)


async def sign_up(
    *,
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    token: str,
    password: str,
    full_name: str,
) -> Joined:
    """A new account for the invited address (verified: the link proves it), and its membership.

    The password is hashed before the first query, so no pooled connection waits on the hash;
    the rule that needs the address (not the password) is checked once it is read.
    """
    check_new_password(settings, password, field="password")
    password_hash = await hasher.hash(password)
    invitation, organization = await _usable(session, token)
    check_new_password(settings, password, field="password", email=invitation.email)
    if await session.scalar(select(User.id).where(User.email == invitation.email)) is not None:
        raise AlreadyRegisteredError("This address has an account: sign in, then accept the invitation.")
    user = User(
        email=invitation.email, full_name=full_name, password_hash=password_hash, email_verified_at=utcnow()
    )
    session.add(user)
    await session.flush()
    return await _join(session, invitation, organization, user_id=user.id)


async def _usable(session: AsyncSession, token: str) -> tuple[Invitation, Organization]:
    token_hash = hash_token(token)
    await bind_credential(session, token_hash)
    invitation = await session.scalar(select(Invitation).where(Invitation.token_hash == token_hash))
    if invitation is None:
        raise InvalidInvitationError
    await bind_organization(session, invitation.org_id)
    organization = await session.scalar(
        select(Organization).where(Organization.id == invitation.org_id, Organization.deleted_at.is_(None))
    )
    if organization is None:
        raise InvalidInvitationError
    if invitation.revoked_at is not None:
        raise InvitationRevokedError
    if invitation.accepted_at is not None:
        raise InvitationUsedError
    if invitation.expires_at <= utcnow():
        raise InvitationExpiredError
    return invitation, organization


async def _join(
    session: AsyncSession, invitation: Invitation, organization: Organization, *, user_id: uuid.UUID
) -> Joined:
    if await session.scalar(select(Membership.id).where(Membership.user_id == user_id)) is not None:
        raise AlreadyMemberError("You already belong to this organization.")
    now = utcnow()
    spent = await session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)
        )
        .values(accepted_at=now, accepted_by=user_id)
        .returning(Invitation.id)
        .execution_options(synchronize_session=False)
    )
    if spent.first() is None:  # used (or revoked) by a request that committed meanwhile
        raise InvitationUsedError
    session.add(Membership(org_id=organization.id, user_id=user_id, role=invitation.role))
    joined = OrgContext.of_member(organization, user_id, invitation.role)
    audit.record(
        session,
        joined,
        action="invitation.accepted",
        target_type="invitation",
        target_id=invitation.id,
        changes={"role": invitation.role.value},
    )
    await session.flush()
    return Joined(user_id=user_id, org_id=organization.id, role=invitation.role)
