"""Invitations: sent by an organization (`/orgs/{org_id}/invitations`), answered by the
invited person (`/invitations/accept` signed in, or `/invitations/signup` without an account)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app.api.contract import problems, sets_headers
from app.api.dependencies.auth import CurrentPrincipal, PasswordHasherDep
from app.api.dependencies.core import SessionDep, SettingsDep
from app.api.dependencies.email import MailerDep, RecipientQuotaDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.pagination import OffsetParamsDep
from app.api.dependencies.rate_limit import RateLimit
from app.api.dependencies.tenancy import RequirePermission
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
from app.core.permissions import Permission
from app.models import Invitation
from app.schemas.common import OffsetPage
from app.schemas.invitation import (
    InvitationAccept,
    InvitationCreate,
    InvitationPublic,
    InvitationSignup,
    Joined,
)
from app.services import invitations
from app.services.organizations import OrgContext

router = APIRouter(prefix="/orgs/{org_id}/invitations", tags=["invitations"], route_class=IdempotentRoute)
answers = APIRouter(prefix="/invitations", tags=["invitations"], route_class=IdempotentRoute)
public_answers = APIRouter(prefix="/invitations", tags=["invitations"])

MembersManager = Annotated[OrgContext, Depends(RequirePermission(Permission.MEMBERS_MANAGE))]
USING_A_LINK = (
    InvalidInvitationError,
    InvitationExpiredError,
    InvitationRevokedError,
    InvitationUsedError,
    AlreadyMemberError,
)


def invitation_public(invitation: Invitation) -> InvitationPublic:
    return InvitationPublic(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        invited_by=invitation.invited_by,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Invite someone by email",
    description="Emails a single-use link, valid for 7 days. A pending invitation to the same "
    "address is replaced. Only owners invite owners; an address that already belongs is a 409.",
    responses={
        **problems(OwnerProtectedError, AlreadyMemberError, ConflictError, RateLimitedError),
        **sets_headers(201, "Location"),
    },
)
async def create_invitation(
    body: InvitationCreate,
    response: Response,
    context: MembersManager,
    session: SessionDep,
    mailer: MailerDep,
    quota: RecipientQuotaDep,
    settings: SettingsDep,
    _idempotent: Idempotent,
) -> InvitationPublic:
    invitation = await invitations.invite(
        session=session,
        context=context,
        mailer=mailer,
        quota=quota,
        settings=settings,
        email=body.email,
        role=body.role,
    )
    response.headers["Location"] = f"/api/v1/orgs/{context.org_id}/invitations/{invitation.id}"
    return invitation_public(invitation)


@router.get("", summary="Pending invitations", description="Invitations not yet answered, newest first.")
async def list_invitations(
    context: MembersManager, session: SessionDep, page: OffsetParamsDep
) -> OffsetPage[InvitationPublic]:
    found = await invitations.list_pending(session=session, limit=page.limit, offset=page.offset)
    return OffsetPage[InvitationPublic](
        items=[invitation_public(item) for item in found.items],
        total=found.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.delete(
    "/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an invitation",
    description="Its link stops working at once.",
    responses=problems(NotFoundError),
)
async def revoke_invitation(invitation_id: uuid.UUID, context: MembersManager, session: SessionDep) -> None:
    await invitations.revoke(session=session, context=context, invitation_id=invitation_id)


@answers.post(
    "/accept",
    summary="Accept an invitation (signed in)",
    description="The signed-in account joins the organization with the invitation's role, if the "
    "invitation was sent to its address.",
    responses=problems(*USING_A_LINK, InvitationWrongAccountError),
)
async def accept_invitation(
    body: InvitationAccept,
    principal: CurrentPrincipal,
    session: SessionDep,
    _idempotent: Idempotent,
) -> Joined:
    joined = await invitations.accept(session=session, principal=principal, token=body.token)
    return Joined(user_id=joined.user_id, org_id=joined.org_id, role=joined.role)


@public_answers.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    summary="Sign up through an invitation",
    description="Creates an account for the invited address (verified: the link proves it) and "
    "joins the organization; then sign in as usual. An address with an account is a 409.",
    responses=problems(*USING_A_LINK, AlreadyRegisteredError),
    dependencies=[Depends(RateLimit("signup"))],
)
async def sign_up_with_invitation(
    body: InvitationSignup, session: SessionDep, hasher: PasswordHasherDep, settings: SettingsDep
) -> Joined:
    joined = await invitations.sign_up(
        session=session,
        hasher=hasher,
        settings=settings,
        token=body.token,
        password=body.password,
        full_name=body.full_name,
    )
    return Joined(user_id=joined.user_id, org_id=joined.org_id, role=joined.role)
