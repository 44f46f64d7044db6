"""The audit log: one entry per change in an organization, written in the change's transaction.

Every mutating service records what it did through `record`, so the entry commits or rolls back
with the change itself: no change without its entry, no entry for a change that failed. Entries
are never changed or deleted (app/models/audit.py; on PostgreSQL the API role lacks the
privileges too).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.logging.context import current_request_id
from app.core.security.principal import ApiKeyPrincipal
from app.models import AuditLogEntry

if TYPE_CHECKING:
    from app.services.organizations import OrgContext


@dataclass(frozen=True, slots=True)
class AuditFilters:
    actor_id: uuid.UUID | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def binding(self) -> str:
        """What a cursor of this list is bound to (app/core/security/cursors.py)."""
        return "|".join(
            str(value) if value is not None else ""
            for value in (
                self.actor_id,
                self.action,
                self.target_type,
                self.target_id,
                self.since,
                self.until,
            )
        )


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditLogEntry]
    has_more: bool


@dataclass(frozen=True, slots=True)
class SystemActor:
    """Invoicer itself acting in an organization, outside any request (a periodic job such as
    the overdue scan): recorded as actor `system`, with no id and no client address."""

    org_id: uuid.UUID
    client_ip: None = None


# Who a change is recorded as: a member or API key in a request, or the system.
Actor: TypeAlias = "OrgContext | SystemActor"


def actor_of(context: Actor) -> tuple[str, uuid.UUID | None]:
    """Who acts: `("user", user id)`, `("api_key", key id)` for a program, `("system", None)`."""
    if isinstance(context, SystemActor):
        return "system", None
    caller = context.principal
    if isinstance(caller, ApiKeyPrincipal):
        return "api_key", caller.api_key_id
    return "user", caller.user_id


def record(
    session: AsyncSession,
    context: Actor,
    *,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str,
    changes: dict[str, Any] | None = None,
) -> None:
    """Add the entry to the session: it is written with the change, in the same transaction."""
    actor_type, actor_id = actor_of(context)
    session.add(
        AuditLogEntry(
            org_id=context.org_id,
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            request_id=current_request_id(),
            client_ip=context.client_ip,
            changes=changes or {},
        )
    )


async def list_entries(
    *, session: AsyncSession, filters: AuditFilters, after: uuid.UUID | None, limit: int
) -> AuditPage:
    """Newest first (ids are time-ordered UUIDv7), from after the cursor's position."""
    query = select(AuditLogEntry).order_by(AuditLogEntry.id.desc()).limit(limit + 1)
    if after is not None:
        query = query.where(AuditLogEntry.id < after)
    if filters.actor_id is not None:
        query = query.where(AuditLogEntry.actor_id == filters.actor_id)
    if filters.action is not None:
        query = query.where(AuditLogEntry.action == filters.action)
    if filters.target_type is not None:
        query = query.where(AuditLogEntry.target_type == filters.target_type)
    if filters.target_id is not None:
        query = query.where(AuditLogEntry.target_id == filters.target_id)
    if filters.since is not None:
        query = query.where(AuditLogEntry.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditLogEntry.created_at < filters.until)
    rows = list(await session.scalars(query))
    return AuditPage(items=rows[:limit], has_more=len(rows) > limit)
