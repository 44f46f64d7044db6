"""/api/v1/orgs/{org_id}/api-keys: credentials for programs, bound to one organization."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app.api.contract import problems, sets_headers
from app.api.dependencies.auth import ApiKeyHasherDep
from app.api.dependencies.core import SessionDep, SettingsDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.pagination import OffsetParamsDep
from app.api.dependencies.tenancy import RequirePermission
from app.core.errors import ApiKeyLimitError, NotFoundError
from app.core.permissions import Permission
from app.models import ApiKey
from app.schemas.api_key import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from app.schemas.common import OffsetPage
from app.services import api_keys
from app.services.organizations import OrgContext

router = APIRouter(prefix="/orgs/{org_id}/api-keys", tags=["api-keys"], route_class=IdempotentRoute)

KeyManager = Annotated[OrgContext, Depends(RequirePermission(Permission.API_KEYS_MANAGE))]


def api_key_public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        prefix=key.display_prefix,
        scopes=key.scopes,
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (its secret is shown once)",
    description="The key holds the scopes named, each one a permission you hold yourself "
    "(`org:manage` never). Send it as `Authorization: Bearer ik_...` to this organization's "
    "routes. At most `MAX_API_KEYS_PER_ORG` live keys per organization.",
    responses={**problems(ApiKeyLimitError), **sets_headers(201, "Location")},
)
async def create_api_key(
    body: ApiKeyCreate,
    response: Response,
    context: KeyManager,
    session: SessionDep,
    hasher: ApiKeyHasherDep,
    settings: SettingsDep,
    _idempotent: Idempotent,
) -> ApiKeyCreated:
    created = await api_keys.create_api_key(
        session=session,
        context=context,
        hasher=hasher,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        max_per_org=settings.max_api_keys_per_org,
    )
    response.headers["Location"] = f"/api/v1/orgs/{context.org_id}/api-keys/{created.key.id}"
    return ApiKeyCreated(**api_key_public(created.key).model_dump(), secret=created.secret)


@router.get(
    "",
    summary="The organization's live API keys",
    description="Newest first, without their secrets (an offset list).",
)
async def list_api_keys(
    context: KeyManager, session: SessionDep, page: OffsetParamsDep
) -> OffsetPage[ApiKeyPublic]:
    found = await api_keys.list_api_keys(session=session, limit=page.limit, offset=page.offset)
    return OffsetPage[ApiKeyPublic](
        items=[api_key_public(key) for key in found.items],
        total=found.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.delete(
    "/{api_key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    description="Refused from the key's very next request on.",
    responses=problems(NotFoundError),
)
async def revoke_api_key(api_key_id: uuid.UUID, context: KeyManager, session: SessionDep) -> None:
    await api_keys.revoke_api_key(session=session, context=context, api_key_id=api_key_id)
