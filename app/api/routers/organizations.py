"""/api/v1/orgs: the organizations you belong to; creating, renaming and deleting one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.api.contract import problems, sets_headers
from app.api.dependencies.auth import CurrentPrincipal
from app.api.dependencies.core import SessionDep, SettingsDep
from app.api.dependencies.features import FeatureFlagsDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.pagination import OffsetParamsDep
from app.api.dependencies.rate_limit import client_address
from app.api.dependencies.tenancy import CurrentOrg, RequirePermission
from app.core.errors import OrganizationLimitError
from app.core.features import Feature
from app.core.permissions import Permission, Role
from app.models import Organization
from app.schemas.common import OffsetPage
from app.schemas.organization import OrganizationCreate, OrganizationPublic, OrganizationUpdate
from app.services import organizations
from app.services.organizations import OrgContext

router = APIRouter(prefix="/orgs", tags=["organizations"], route_class=IdempotentRoute)

OrgManager = Annotated[OrgContext, Depends(RequirePermission(Permission.ORG_MANAGE))]


def organization_public(organization: Organization, role: Role | None) -> OrganizationPublic:
    return OrganizationPublic(
        id=organization.id,
        name=organization.name,
        slug=organization.slug,
        created_at=organization.created_at,
        role=role,
    )


@router.get(
    "",
    summary="Your organizations",
    description="Every organization you belong to, by name, with your role in each (an offset list).",
)
async def list_organizations(
    principal: CurrentPrincipal, session: SessionDep, page: OffsetParamsDep
) -> OffsetPage[OrganizationPublic]:
    found = await organizations.list_organizations(
        session=session, user_id=principal.user_id, limit=page.limit, offset=page.offset
    )
    return OffsetPage[OrganizationPublic](
        items=[organization_public(organization, role) for organization, role in found.items],
        total=found.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an organization (you become its owner)",
    description="The slug is made from the name (suffixed when taken). At most "
    "`MAX_ORGANIZATIONS_PER_USER` organizations per account.",
    responses={**problems(OrganizationLimitError), **sets_headers(201, "Location")},
)
async def create_organization(
    body: OrganizationCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    _idempotent: Idempotent,
) -> OrganizationPublic:
    context = await organizations.create_organization(
        session=session,
        principal=principal,
        name=body.name,
        max_per_user=settings.max_organizations_per_user,
        client_ip=client_address(request),
    )
    response.headers["Location"] = f"/api/v1/orgs/{context.org_id}"
    return organization_public(context.organization, context.role)


@router.get(
    "/{org_id}",
    summary="An organization you belong to",
    description="Any member may read it; an organization you do not belong to is a 404.",
)
async def read_organization(context: CurrentOrg) -> OrganizationPublic:
    return organization_public(context.organization, context.role)


@router.patch(
    "/{org_id}",
    summary="Rename an organization (owners)",
    description="A partial update: only the fields sent change. The slug stays as it was.",
)
async def update_organization(
    body: OrganizationUpdate, context: OrgManager, session: SessionDep
) -> OrganizationPublic:
    if body.name is not None:
        await organizations.rename_organization(session=session, context=context, name=body.name)
    return organization_public(context.organization, context.role)


@router.delete(
    "/{org_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an organization (owners; confirm with its slug)",
    description="The organization disappears from every answer at once, for every member and API "
    "key. Its rows are kept until an operator purges them. `confirm` must equal the slug.",
)
async def delete_organization(
    context: OrgManager,
    session: SessionDep,
    confirm: Annotated[str, Query(max_length=80, description="The organization's slug, to confirm.")],
) -> None:
    await organizations.delete_organization(session=session, context=context, confirm=confirm)


@router.get(
    "/{org_id}/features",
    summary="The organization's feature flags",
    description="Each feature and whether it is on here: the deployment's default "
    "(`FEATURE_DEFAULTS`) unless an operator set it for this organization (`invoicer set-feature`).",
)
async def read_features(context: CurrentOrg, flags: FeatureFlagsDep) -> dict[Feature, bool]:
    return flags
