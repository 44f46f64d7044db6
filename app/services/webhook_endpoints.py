"""Webhook endpoints: where an organization wants its events sent, and the secret it checks.

- The URL passes the SSRF rules (app/core/security/ssrf.py) at registration and at every
  change; each delivery checks it again after resolving the host.
- The signing secret is shown once, at creation and at each rotation, and stored sealed with
  the endpoint's id (app/core/security/sealing.py). A rotation keeps the previous secret for
  WEBHOOK_SECRET_ROTATION_GRACE_SECONDS, during which deliveries carry both signatures.
- Changes are optimistic (`If-Match`, as customers) and audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.conditional import TagList, ensure_current
from app.core.config import Settings
from app.core.errors import InvalidInputError, NotFoundError, WebhookEndpointLimitError
from app.core.security.sealing import PayloadSealer
from app.core.security.ssrf import TargetPolicy, TargetRefusedError, check_target
from app.models import WebhookEndpoint
from app.models.base import new_id, utcnow
from app.schemas.webhooks import WebhookEndpointCreate, WebhookEndpointUpdate
from app.services import audit, webhook_signing
from app.services.organizations import OrgContext, lock_organization
from app.services.versioning import flush_versioned

NO_SUCH_ENDPOINT = "No such webhook endpoint."
TARGET_TYPE = "webhook_endpoint"


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown once, in the response that made it


@dataclass(frozen=True, slots=True)
class EndpointPage:
    items: list[WebhookEndpoint]
    total: int


def target_policy(settings: Settings) -> TargetPolicy:
    return TargetPolicy(
        allow_private=settings.webhook_allow_private_targets,
        require_https=settings.effective_webhook_require_https,
    )


async def _check_url(url: str, settings: Settings) -> None:
    try:
        await check_target(url, target_policy(settings), timeout_seconds=settings.webhook_dns_timeout_seconds)
    except TargetRefusedError as error:
        raise InvalidInputError(["body", "url"], str(error), "url_refused") from None


async def create_endpoint(
    *,
    session: AsyncSession,
    context: OrgContext,
    sealer: PayloadSealer,
    settings: Settings,
    data: WebhookEndpointCreate,
) -> EndpointWithSecret:
    await _check_url(data.url, settings)
    await lock_organization(session, context)
    count = await session.scalar(select(func.count()).select_from(WebhookEndpoint))
    limit = settings.webhook_max_endpoints_per_org
    if (count or 0) >= limit:
        raise WebhookEndpointLimitError(
            f"An organization may have at most {limit} webhook endpoints; delete one first."
        )
    endpoint_id = new_id()
    secret = webhook_signing.new_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        url=data.url,
        description=data.description,
        event_types=[event_type.value for event_type in data.event_types],
        enabled=data.enabled,
        secret=sealer.seal(secret.encode(), row_id=endpoint_id),
    )
    session.add(endpoint)
    await session.flush()
    audit.record(
        session,
        context,
        action="webhook_endpoint.created",
        target_type=TARGET_TYPE,
        target_id=endpoint.id,
        changes={"url": endpoint.url, "event_types": endpoint.event_types, "enabled": endpoint.enabled},
    )
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


async def get_endpoint(*, session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """The endpoint, in the organization the session is bound to; 404 otherwise."""
    endpoint = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    if endpoint is None:
        raise NotFoundError(NO_SUCH_ENDPOINT)
    return endpoint


async def list_endpoints(*, session: AsyncSession, limit: int, offset: int) -> EndpointPage:
    total = await session.scalar(select(func.count()).select_from(WebhookEndpoint))
    rows = await session.scalars(
        select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc()).limit(limit).offset(offset)
    )
    return EndpointPage(items=list(rows), total=total or 0)


async def update_endpoint(
    *,
    session: AsyncSession,
    context: OrgContext,
    settings: Settings,
    endpoint_id: uuid.UUID,
    changes: WebhookEndpointUpdate,
    if_match: TagList | None,
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session=session, endpoint_id=endpoint_id)
    ensure_current(if_match, version=endpoint.version)
    summary: dict[str, Any] = {}
    if changes.url is not None and changes.url != endpoint.url:
        await _check_url(changes.url, settings)
        summary["url"] = [endpoint.url, changes.url]
        endpoint.url = changes.url
    if changes.event_types is not None:
        types = [event_type.value for event_type in changes.event_types]
        if types != endpoint.event_types:
            summary["event_types"] = [endpoint.event_types, types]
            endpoint.event_types = types
    if "description" in changes.model_fields_set and changes.description != endpoint.description:
        summary["description"] = "changed"
        endpoint.description = changes.description
    if changes.enabled is not None and changes.enabled != endpoint.enabled:
        summary["enabled"] = [endpoint.enabled, changes.enabled]
        endpoint.enabled = changes.enabled
        if changes.enabled:
            # A fresh start: the failures that disabled it are not held against it again.
            endpoint.disabled_reason = None
            endpoint.disabled_at = None
            endpoint.failing_since = None
        else:
            endpoint.disabled_at = utcnow()
    if summary:
        await flush_versioned(session)
        audit.record(
            session,
            context,
            action="webhook_endpoint.updated",
            target_type=TARGET_TYPE,
            target_id=endpoint.id,
            changes=summary,
        )
    return endpoint


async def delete_endpoint(
    *, session: AsyncSession, context: OrgContext, endpoint_id: uuid.UUID, if_match: TagList | None
) -> None:
    """Deletes its deliveries and their attempts with it (foreign keys cascade)."""
    endpoint = await get_endpoint(session=session, endpoint_id=endpoint_id)
    ensure_current(if_match, version=endpoint.version)
    url = endpoint.url
    await session.delete(endpoint)
    await flush_versioned(session)
    audit.record(
        session,
        context,
        action="webhook_endpoint.deleted",
        target_type=TARGET_TYPE,
        target_id=endpoint_id,
        changes={"url": url},
    )


async def rotate_secret(
    *,
    session: AsyncSession,
    context: OrgContext,
    sealer: PayloadSealer,
    settings: Settings,
    endpoint_id: uuid.UUID,
) -> EndpointWithSecret:
    """A new secret, shown once; the current one keeps signing for the grace period (a second
    rotation within it drops the oldest)."""
    endpoint = await get_endpoint(session=session, endpoint_id=endpoint_id)
    grace = settings.webhook_secret_rotation_grace_seconds
    secret = webhook_signing.new_secret()
    if grace > 0:
        # Still sealed for this row: moved from one column to the other as it is.
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = utcnow() + timedelta(seconds=grace)
    else:
        endpoint.previous_secret = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret = sealer.seal(secret.encode(), row_id=endpoint.id)
    await flush_versioned(session)
    audit.record(
        session,
        context,
        action="webhook_endpoint.secret_rotated",
        target_type=TARGET_TYPE,
        target_id=endpoint.id,
        changes={"previous_secret_expires_at": str(endpoint.previous_secret_expires_at)},
    )
    return EndpointWithSecret(endpoint=endpoint, secret=secret)
