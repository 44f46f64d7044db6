"""/api/v1/orgs/{org_id}/members: who belongs to an organization, with which role."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.api.contract import problems
from app.api.dependencies.core import SessionDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.pagination import OffsetParamsDep
from app.api.dependencies.tenancy import CurrentOrg, RequirePermission
from app.core.errors import LastOwnerError, NotFoundError, OwnerProtectedError, PermissionDeniedError
from app.core.permissions import Permission
from app.schemas.common import OffsetPage
from app.schemas.organization import MemberPublic, MemberUpdate, OwnershipTransfer
from app.services import members
from app.services.members import Member
from app.services.organizations import OrgContext

router = APIRouter(
    prefix="/orgs/{org_id}/members",
    tags=["members"],
    dependencies=[Depends(RequirePermission(Permission.MEMBERS_READ))],
    route_class=IdempotentRoute,
)

MembersManager = Annotated[OrgContext, Depends(RequirePermission(Permission.MEMBERS_MANAGE))]
OrgOwner = Annotated[OrgContext, Depends(RequirePermission(Permission.ORG_MANAGE))]


def member_public(member: Member) -> MemberPublic:
    return MemberPublic(
        user_id=member.user_id, email=member.email, full_name=member.full_name, role=member.role
    )


@router.get(
    "",
    summary="The organization's members",
    description="The organization's members by email (an offset list).",
)
async def list_members(
    context: CurrentOrg, session: SessionDep, page: OffsetParamsDep
) -> OffsetPage[MemberPublic]:
    found = await members.list_members(session=session, limit=page.limit, offset=page.offset)
    return OffsetPage[MemberPublic](
        items=[member_public(member) for member in found.items],
        total=found.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{user_id}",
    summary="One member and their role",
    description="One member of the organization.",
    responses=problems(NotFoundError),
)
async def read_member(user_id: uuid.UUID, context: CurrentOrg, session: SessionDep) -> MemberPublic:
    return member_public(await members.get_member(session=session, user_id=user_id))


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Leave the organization",
    description="Any member may leave, except the last owner (transfer ownership first). Your "
    "tokens stay valid for your other organizations; this one answers 404 from the next request.",
    responses=problems(LastOwnerError, PermissionDeniedError),
)
async def leave_organization(context: CurrentOrg, session: SessionDep) -> None:
    await members.leave_organization(session=session, context=context)


@router.patch(
    "/{user_id}",
    summary="Change a member's role",
    description="Administrators never change an owner's role or make anyone an owner; owners do. "
    "An owner may step down (not the last one); nobody else changes their own role.",
    responses=problems(NotFoundError, OwnerProtectedError, LastOwnerError),
)
async def change_member_role(
    user_id: uuid.UUID, body: MemberUpdate, context: MembersManager, session: SessionDep
) -> MemberPublic:
    return member_public(
        await members.change_role(session=session, context=context, user_id=user_id, role=body.role)
    )


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    description="Owners are removed by owners only. It takes effect on the member's next request, "
    "whatever tokens they hold. To leave, use `DELETE .../members/me`.",
    responses=problems(NotFoundError, OwnerProtectedError, LastOwnerError),
)
async def remove_member(user_id: uuid.UUID, context: MembersManager, session: SessionDep) -> None:
    await members.remove_member(session=session, context=context, user_id=user_id)


@router.post(
    "/transfer-ownership",
    summary="Transfer ownership (owners)",
    description="The member named becomes an owner and you become an administrator.",
    responses=problems(NotFoundError),
)
async def transfer_ownership(
    body: OwnershipTransfer, context: OrgOwner, session: SessionDep, _idempotent: Idempotent
) -> MemberPublic:
    member = await members.transfer_ownership(session=session, context=context, user_id=body.user_id)
    return member_public(member)
