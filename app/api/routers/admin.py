"""/api/v1/admin: platform administration, for Invoicer's operators only (not tenants)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, status

from app.api.contract import problems
from app.api.dependencies.auth import PlatformAdmin, RevocationsDep, get_platform_admin
from app.api.dependencies.core import SessionDep, SettingsDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.core.errors import ConflictError, NotFoundError
from app.services import platform_admin

# Every route here is for platform administrators; endpoints that need the actor also take
# `PlatformAdmin`, which FastAPI resolves once per request.
router = APIRouter(
    prefix="/admin", tags=["admin"], dependencies=[Depends(get_platform_admin)], route_class=IdempotentRoute
)


@router.post(
    "/users/{user_id}/deactivate",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Deactivate a user: sign-in refused, every session ended at once",
    description=(
        "For platform administrators. Applies across every organization the user belongs to. "
        "Sign-in then fails like a wrong password; access tokens already issued stop working "
        "immediately. Idempotent. You cannot deactivate yourself (409)."
    ),
    responses=problems(NotFoundError, ConflictError),
)
async def deactivate_user(
    user_id: uuid.UUID,
    admin: PlatformAdmin,
    session: SessionDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
    _idempotent: Idempotent,
) -> None:
    await platform_admin.deactivate_user(
        session=session, revocations=revocations, settings=settings, actor_id=admin.user_id, user_id=user_id
    )


@router.post(
    "/users/{user_id}/reactivate",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Reactivate a user: sign-in allowed again",
    description="For platform administrators. Sessions ended by the deactivation stay ended. Idempotent.",
    responses=problems(NotFoundError),
)
async def reactivate_user(user_id: uuid.UUID, session: SessionDep, _idempotent: Idempotent) -> None:
    await platform_admin.reactivate_user(session=session, user_id=user_id)
