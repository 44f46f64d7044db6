"""Members of an organization: listing, changing roles, removing, leaving, transferring ownership.

The object-level rules live here, so the CLI and workers obey them as the API does:
- administrators (members:manage) never touch owners: they neither change nor remove one,
  nor make anyone an owner; only owners do;
- an organization always keeps an owner: the last one can neither leave nor step down;
- every change of an organization's owners takes the organization's row lock first, so two
  owners stepping down at once cannot both succeed.
A removed member or a lowered role takes effect on the member's next request, whatever
tokens they hold: every tenant request reads the membership afresh
(app/services/organizations.py, `open_organization`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import LastOwnerError, NotFoundError, OwnerProtectedError, PermissionDeniedError
from app.core.permissions import Permission, Role
from app.models import Membership, User
from app.services import audit
from app.services.organizations import OrgContext, lock_organization


@dataclass(frozen=True, slots=True)
class Member:
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Role


@dataclass(frozen=True, slots=True)
class MemberPage:
    items: list[Member]
    total: int


def _member(row: tuple[Membership, User]) -> Member:
    membership, user = row
    return Member(user_id=user.id, email=user.email, full_name=user.full_name, role=membership.role)


async def list_members(*, session: AsyncSession, limit: int, offset: int) -> MemberPage:
    """The bound organization's members (the session is bound: no filter needed, none forgotten)."""
    total = await session.scalar(select(func.count()).select_from(Membership))
    rows = await session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .order_by(User.email, User.id)
        .limit(limit)
        .offset(offset)
    )
    return MemberPage(items=[_member((row[0], row[1])) for row in rows], total=total or 0)


async def get_member(*, session: AsyncSession, user_id: uuid.UUID) -> Member:
    return _member(await _membership(session, user_id))


async def change_role(
    *, session: AsyncSession, context: OrgContext, user_id: uuid.UUID, role: Role
) -> Member:
    await lock_organization(session, context)
    membership, user = await _membership(session, user_id)
    acting_on_self = user_id == context.user_id
    if not acting_on_self:
        _require(context, Permission.MEMBERS_MANAGE)
        if context.role is not Role.OWNER and Role.OWNER in (membership.role, role):
            raise OwnerProtectedError("Only an owner changes an owner's role or makes someone an owner.")
    elif role is not membership.role:
        # Stepping down is the only change anyone makes to their own role.
        if membership.role is not Role.OWNER:
            raise PermissionDeniedError("You cannot change your own role.")
        await _keep_an_owner(session)
    if role is not membership.role:
        audit.record(
            session,
            context,
            action="member.role_changed",
            target_type="member",
            target_id=user_id,
            changes={"role": [membership.role.value, role.value]},
        )
    membership.role = role
    await session.flush()
    return _member((membership, user))


async def remove_member(*, session: AsyncSession, context: OrgContext, user_id: uuid.UUID) -> None:
    """Remove someone else (members:manage), or leave (anyone, but never the last owner)."""
    await lock_organization(session, context)
    membership, _user = await _membership(session, user_id)
    if user_id != context.user_id:
        _require(context, Permission.MEMBERS_MANAGE)
        if membership.role is Role.OWNER and context.role is not Role.OWNER:
            raise OwnerProtectedError("Only an owner removes an owner.")
    elif membership.role is Role.OWNER:
        await _keep_an_owner(session)
    leaving = user_id == context.user_id
    audit.record(
        session,
        context,
        action="member.left" if leaving else "member.removed",
        target_type="member",
        target_id=user_id,
        changes={"role": membership.role.value},
    )
    await session.delete(membership)
    await session.flush()


async def leave_organization(*, session: AsyncSession, context: OrgContext) -> None:
    await remove_member(session=session, context=context, user_id=_person(context))


async def transfer_ownership(*, session: AsyncSession, context: OrgContext, user_id: uuid.UUID) -> Member:
    """Make another member the owner; the caller (an owner) becomes an admin."""
    _require(context, Permission.ORG_MANAGE)
    me = _person(context)
    await lock_organization(session, context)
    if user_id == me:
        raise PermissionDeniedError("You already own this organization.")
    membership, user = await _membership(session, user_id)
    mine, _me = await _membership(session, me)
    membership.role = Role.OWNER
    mine.role = Role.ADMIN
    audit.record(
        session,
        context,
        action="organization.ownership_transferred",
        target_type="member",
        target_id=user_id,
        changes={"from": str(me), "to": str(user_id)},
    )
    await session.flush()
    return _member((membership, user))


def _person(context: OrgContext) -> uuid.UUID:
    """The member acting; an API key is refused (leaving and handing over are for people)."""
    if context.user_id is None:
        raise PermissionDeniedError("Only a member, not an API key, can do this.")
    return context.user_id


def _require(context: OrgContext, permission: Permission) -> None:
    if not context.allows(permission):
        raise PermissionDeniedError(f"You lack the permission {permission.value}.")


async def _membership(session: AsyncSession, user_id: uuid.UUID) -> tuple[Membership, User]:
    row = (
        await session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.user_id == user_id)
        )
    ).first()
    if row is None:
        raise NotFoundError("No such member.")
    return row[0], row[1]


async def _keep_an_owner(session: AsyncSession) -> None:
    owners = await session.scalar(
        select(func.count()).select_from(Membership).where(Membership.role == Role.OWNER)
    )
    if (owners or 0) <= 1:
        raise LastOwnerError("You are the last owner: transfer ownership before stepping down or leaving.")
