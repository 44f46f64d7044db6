"""/api/v1/orgs/{org_id}/audit-log: who changed what in the organization, newest first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from app.api.contract import response_header
from app.api.dependencies.core import SessionDep
from app.api.dependencies.features import RequireFeature
from app.api.dependencies.pagination import CursorParamsDep
from app.api.dependencies.tenancy import RequirePermission
from app.core.features import Feature
from app.core.permissions import Permission
from app.models import AuditLogEntry
from app.schemas.audit import AuditLogEntryPublic
from app.schemas.common import CursorPage
from app.services import audit
from app.services.audit import AuditFilters
from app.services.organizations import OrgContext

router = APIRouter(
    prefix="/orgs/{org_id}/audit-log",
    tags=["audit"],
    dependencies=[Depends(RequireFeature(Feature.AUDIT_LOG))],
)

AuditReader = Annotated[OrgContext, Depends(RequirePermission(Permission.AUDIT_READ))]


def entry_public(entry: AuditLogEntry) -> AuditLogEntryPublic:
    return AuditLogEntryPublic(
        id=entry.id,
        actor_type=entry.actor_type,
        actor_id=entry.actor_id,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        request_id=entry.request_id,
        client_ip=entry.client_ip,
        changes=entry.changes,
        created_at=entry.created_at,
    )


@router.get(
    "",
    summary="The organization's audit log",
    description="Every change in the organization (who, what, which object, from which request "
    "and address), newest first, with keyset pagination: follow `next_cursor` or the `Link` "
    "header. A cursor works only for the list and filters it came from.",
    # `Link` only while there is a next page.
    responses={200: {"headers": {"Link": response_header("Link", required=False)}}},
)
async def list_audit_log(
    context: AuditReader,
    session: SessionDep,
    page: CursorParamsDep,
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]+$")] = None,
    target_type: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[AwareDatetime | None, Query(description="From this time on (inclusive).")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Before this time.")] = None,
) -> CursorPage[AuditLogEntryPublic]:
    filters = AuditFilters(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
    )
    binding = f"audit:{context.org_id}:{filters.binding()}"
    found = await audit.list_entries(
        session=session, filters=filters, after=page.position(binding=binding), limit=page.limit
    )
    last = found.items[-1].id if found.has_more and found.items else None
    return CursorPage[AuditLogEntryPublic](
        items=[entry_public(entry) for entry in found.items],
        next_cursor=page.next_cursor(last, binding=binding),
    )
