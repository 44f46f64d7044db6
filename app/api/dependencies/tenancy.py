"""The tenant seam, HTTP side: `CurrentOrg` opens the organization in the path for the caller,
and `RequirePermission` checks one permission of the role held there.

Not a member (or no such organization, or a deleted one) answers 404, never 403, so that no
one learns which organizations exist; a member whose role lacks the permission gets 403.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Request, Response

from app.api.contract import Declares, declare
from app.api.dependencies.auth import CurrentCaller
from app.api.dependencies.core import SessionDep
from app.api.dependencies.rate_limit import client_address, enforce
from app.core.errors import NotFoundError, PermissionDeniedError, RateLimitedError
from app.core.permissions import Permission
from app.services import organizations
from app.services.organizations import OrgContext

PERMISSIONS_EXTENSION = "x-required-permissions"


async def get_org_context(
    org_id: Annotated[uuid.UUID, Path(description="The organization's id.")],
    request: Request,
    response: Response,
    caller: CurrentCaller,
    session: SessionDep,
) -> OrgContext:
    context = await organizations.open_organization(
        session=session, org_id=org_id, principal=caller, client_ip=client_address(request)
    )
    # Counted once the caller is known to belong: nobody spends another organization's quota.
    await enforce(request, response, policy_name="api_org", key=f"org:{context.org_id}")
    return context


CurrentOrg = Annotated[OrgContext, Depends(get_org_context)]


class RequirePermission:
    """`Depends(RequirePermission(Permission.INVOICES_READ))`, on a route or a whole router.

    The permission shows in the OpenAPI document under `x-required-permissions`.
    """

    def __init__(self, permission: Permission) -> None:
        self.permission = permission
        declare(
            self,
            Declares(
                problems=(PermissionDeniedError,), extensions={PERMISSIONS_EXTENSION: [permission.value]}
            ),
        )

    async def __call__(self, context: CurrentOrg) -> OrgContext:
        if not context.allows(self.permission):
            raise PermissionDeniedError(f"You lack the permission {self.permission.value} here.")
        return context

    def __repr__(self) -> str:
        return f"RequirePermission({self.permission.value!r})"


API_KEY_SCHEME = "ApiKey"
declare(
    get_org_context,
    Declares(
        problems=(NotFoundError, RateLimitedError),
        security=({API_KEY_SCHEME: []},),
        security_schemes={
            API_KEY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key of this organization (`ik_...`, from `POST .../api-keys`), "
                "holding the permissions it was given.",
            }
        },
    ),
)
