"""/api/v1/users/me: the signed-in user's own account."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from app.api.contract import problems
from app.api.dependencies.auth import (
    CurrentPrincipal,
    LoginThrottleDep,
    PasswordHasherDep,
    RevocationsDep,
)
from app.api.dependencies.core import DatabaseDep, SessionDep, SettingsDep
from app.api.dependencies.email import MailerDep
from app.api.dependencies.rate_limit import client_address
from app.core.errors import ConflictError, NotFoundError, RateLimitedError
from app.models import User
from app.schemas.user import MembershipPublic, PasswordChangeRequest, UserPublic, UserUpdate
from app.services import accounts

router = APIRouter(prefix="/users", tags=["users"])


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        email_verified=user.email_verified,
        created_at=user.created_at,
        memberships=[
            MembershipPublic(
                org_id=membership.org_id,
                org_name=membership.organization.name,
                org_slug=membership.organization.slug,
                role=membership.role,
            )
            for membership in user.memberships
        ],
    )


# The account behind a live token can vanish only in a race with its removal.
@router.get(
    "/me",
    summary="Your account and organizations",
    description="The signed-in user's profile and, per organization, the role held there.",
    responses=problems(NotFoundError),
)
async def read_me(principal: CurrentPrincipal, session: SessionDep) -> UserPublic:
    return user_public(await accounts.get_user(session=session, user_id=principal.user_id))


@router.patch(
    "/me",
    summary="Update your profile (only the fields sent)",
    description="A partial update: only the fields sent change; the others keep their value.",
    responses=problems(NotFoundError),
)
async def update_me(body: UserUpdate, principal: CurrentPrincipal, session: SessionDep) -> UserPublic:
    user = await accounts.update_user(
        session=session, user_id=principal.user_id, changes=body.model_dump(exclude_unset=True)
    )
    return user_public(user)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change your password (needs the current one)",
    description=(
        "By default every other session is signed out; this one stays. A wrong current password "
        "is a 422 on `current_password` and counts against the sign-in throttle (429)."
    ),
    responses=problems(NotFoundError, ConflictError, RateLimitedError),
)
async def change_password(
    body: PasswordChangeRequest,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    database: DatabaseDep,
    hasher: PasswordHasherDep,
    revocations: RevocationsDep,
    throttle: LoginThrottleDep,
    mailer: MailerDep,
    settings: SettingsDep,
) -> None:
    await accounts.change_password(
        session=session,
        database=database,
        hasher=hasher,
        revocations=revocations,
        throttle=throttle,
        mailer=mailer,
        settings=settings,
        principal=principal,
        client_ip=client_address(request),
        current_password=body.current_password,
        new_password=body.new_password,
        sign_out_other_sessions=body.sign_out_other_sessions,
    )
