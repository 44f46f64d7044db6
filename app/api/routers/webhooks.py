"""/api/v1/orgs/{org_id}/webhook-endpoints: where events are sent, and what became of each
delivery (docs/webhooks.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.api.contract import problems, response_header, sets_headers
from app.api.dependencies.conditional import IfMatchDep, not_modified
from app.api.dependencies.core import ServicesDep, SessionDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.pagination import CursorParamsDep, OffsetParamsDep
from app.api.dependencies.tenancy import RequirePermission
from app.core.conditional import entity_tag
from app.core.errors import (
    NotFoundError,
    WebhookDeliveryInProgressError,
    WebhookEndpointDisabledError,
    WebhookEndpointLimitError,
)
from app.core.permissions import Permission
from app.models import WebhookEndpoint
from app.models.job import WorkStatus
from app.schemas.common import CursorPage, OffsetPage
from app.schemas.webhooks import (
    WebhookAttemptPublic,
    WebhookDeliveryDetail,
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
    WebhookReplayed,
    WebhookReplayRequest,
)
from app.services import webhook_deliveries, webhook_endpoints
from app.services.organizations import OrgContext
from app.tasks.names import DELIVER_WEBHOOK

router = APIRouter(prefix="/orgs/{org_id}/webhook-endpoints", tags=["webhooks"], route_class=IdempotentRoute)

WebhookManager = Annotated[OrgContext, Depends(RequirePermission(Permission.WEBHOOKS_MANAGE))]


def _location(context: OrgContext, endpoint: WebhookEndpoint) -> str:
    return f"/api/v1/orgs/{context.org_id}/webhook-endpoints/{endpoint.id}"


def _with_secret(created: webhook_endpoints.EndpointWithSecret) -> WebhookEndpointWithSecret:
    public = WebhookEndpointPublic.from_model(created.endpoint)
    return WebhookEndpointWithSecret(**public.model_dump(), secret=created.secret)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a webhook endpoint (its secret is shown once)",
    description="An https URL (http only in development) that is not, and does not resolve to, a "
    "loopback, private, link-local or cloud-metadata address; the event types it receives (at least "
    "one). The answer holds the signing secret (`whsec_...`), this once. At most "
    "`WEBHOOK_MAX_ENDPOINTS_PER_ORG` endpoints per organization.",
    responses={**problems(WebhookEndpointLimitError), **sets_headers(201, "Location", "ETag")},
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    response: Response,
    context: WebhookManager,
    session: SessionDep,
    services: ServicesDep,
    _idempotent: Idempotent,
) -> WebhookEndpointWithSecret:
    created = await webhook_endpoints.create_endpoint(
        session=session,
        context=context,
        sealer=services.payload_sealer,
        settings=services.settings,
        data=body,
    )
    response.headers["Location"] = _location(context, created.endpoint)
    response.headers["ETag"] = entity_tag(created.endpoint.version)
    return _with_secret(created)


@router.get(
    "",
    summary="The organization's webhook endpoints",
    description="Newest first, without their secrets (an offset list).",
)
async def list_webhook_endpoints(
    context: WebhookManager, session: SessionDep, page: OffsetParamsDep
) -> OffsetPage[WebhookEndpointPublic]:
    found = await webhook_endpoints.list_endpoints(session=session, limit=page.limit, offset=page.offset)
    return OffsetPage[WebhookEndpointPublic](
        items=[WebhookEndpointPublic.from_model(endpoint) for endpoint in found.items],
        total=found.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{endpoint_id}",
    response_model=WebhookEndpointPublic,
    summary="Read one webhook endpoint",
    description="With its `ETag` (send it as `If-Match` to change or delete it); never its secret.",
    responses={**problems(NotFoundError), **sets_headers(200, "ETag"), 304: {"description": "Not modified."}},
)
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, request: Request, response: Response, context: WebhookManager, session: SessionDep
) -> WebhookEndpointPublic | Response:
    endpoint = await webhook_endpoints.get_endpoint(session=session, endpoint_id=endpoint_id)
    etag = entity_tag(endpoint.version)
    if not_modified(request, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return WebhookEndpointPublic.from_model(endpoint)


@router.patch(
    "/{endpoint_id}",
    summary="Change a webhook endpoint",
    description="Only the fields sent change; null clears `description`. `enabled: true` re-enables "
    "an endpoint Invoicer disabled and forgets its failures. Requires `If-Match`.",
    responses={**problems(NotFoundError), **sets_headers(200, "ETag")},
)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    if_match: IfMatchDep,
    response: Response,
    context: WebhookManager,
    session: SessionDep,
    services: ServicesDep,
) -> WebhookEndpointPublic:
    endpoint = await webhook_endpoints.update_endpoint(
        session=session,
        context=context,
        settings=services.settings,
        endpoint_id=endpoint_id,
        changes=body,
        if_match=if_match,
    )
    response.headers["ETag"] = entity_tag(endpoint.version)
    return WebhookEndpointPublic.from_model(endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook endpoint",
    description="With its deliveries and their attempts. Requires `If-Match`.",
    responses=problems(NotFoundError),
)
async def delete_webhook_endpoint(
    endpoint_id: uuid.UUID, if_match: IfMatchDep, context: WebhookManager, session: SessionDep
) -> None:
    await webhook_endpoints.delete_endpoint(
        session=session, context=context, endpoint_id=endpoint_id, if_match=if_match
    )


@router.post(
    "/{endpoint_id}/rotate-secret",
    summary="Rotate the signing secret (the new one is shown once)",
    description="A new secret, in this answer only. For `WEBHOOK_SECRET_ROTATION_GRACE_SECONDS` "
    "(24 hours) deliveries carry two signatures, one per secret, so receivers can switch over.",
    responses={**problems(NotFoundError), **sets_headers(200, "ETag")},
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID,
    response: Response,
    context: WebhookManager,
    session: SessionDep,
    services: ServicesDep,
    _idempotent: Idempotent,
) -> WebhookEndpointWithSecret:
    rotated = await webhook_endpoints.rotate_secret(
        session=session,
        context=context,
        sealer=services.payload_sealer,
        settings=services.settings,
        endpoint_id=endpoint_id,
    )
    response.headers["ETag"] = entity_tag(rotated.endpoint.version)
    return _with_secret(rotated)


@router.post(
    "/{endpoint_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a test delivery",
    description="A `webhook.ping` message (no event), signed and retried like any delivery; "
    "follow it in the endpoint's deliveries.",
    responses=problems(NotFoundError, WebhookEndpointDisabledError),
)
async def ping_webhook_endpoint(
    endpoint_id: uuid.UUID,
    context: WebhookManager,
    session: SessionDep,
    services: ServicesDep,
    _idempotent: Idempotent,
) -> WebhookDeliveryPublic:
    endpoint = await webhook_endpoints.get_endpoint(session=session, endpoint_id=endpoint_id)
    delivery = await webhook_deliveries.create_ping(
        session=session,
        context=context,
        endpoint=endpoint,
        max_attempts=webhook_deliveries.retry_policy(services.settings).max_attempts,
        waker=services.jobs,
        task=DELIVER_WEBHOOK,
    )
    return WebhookDeliveryPublic.from_model(delivery)


@router.post(
    "/{endpoint_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send the dead deliveries again",
    description="Every dead delivery of this endpoint created since `since` starts again from its "
    "first attempt (at most 1000 per call, the oldest first: call again for more).",
    responses=problems(NotFoundError, WebhookEndpointDisabledError),
)
async def replay_webhook_endpoint(
    endpoint_id: uuid.UUID,
    body: WebhookReplayRequest,
    context: WebhookManager,
    session: SessionDep,
    services: ServicesDep,
    _idempotent: Idempotent,
) -> WebhookReplayed:
    endpoint = await webhook_endpoints.get_endpoint(session=session, endpoint_id=endpoint_id)
    requeued = await webhook_deliveries.replay_dead_since(
        session=session,
        context=context,
        endpoint=endpoint,
        since=body.since,
        max_attempts=webhook_deliveries.retry_policy(services.settings).max_attempts,
        waker=services.jobs,
        task=DELIVER_WEBHOOK,
    )
    return WebhookReplayed(requeued=requeued)


@router.get(
    "/{endpoint_id}/deliveries",
    summary="The endpoint's deliveries",
    description="Newest first, with keyset pagination: follow `next_cursor` or the `Link` header. "
    "Filter by `status` (repeatable): `pending`, `running`, `succeeded`, `dead`.",
    responses={
        **problems(NotFoundError),
        200: {"headers": {"Link": response_header("Link", required=False)}},
    },
)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID,
    context: WebhookManager,
    session: SessionDep,
    page: CursorParamsDep,
    statuses: Annotated[
        list[WorkStatus] | None,
        Query(alias="status", max_length=len(WorkStatus), description="Only deliveries in these states."),
    ] = None,
) -> CursorPage[WebhookDeliveryPublic]:
    endpoint = await webhook_endpoints.get_endpoint(session=session, endpoint_id=endpoint_id)
    wanted = frozenset(statuses or ())
    binding = f"webhook-deliveries:{context.org_id}:{endpoint.id}:{','.join(sorted(wanted))}"
    found = await webhook_deliveries.list_deliveries(
        session=session,
        endpoint_id=endpoint.id,
        statuses=wanted,
        after=page.position(binding=binding),
        limit=page.limit,
    )
    last = found.items[-1].id if found.has_more and found.items else None
    return CursorPage[WebhookDeliveryPublic](
        items=[WebhookDeliveryPublic.from_model(delivery) for delivery in found.items],
        next_cursor=page.next_cursor(last, binding=binding),
    )


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    summary="Read one delivery, with its attempts",
    description="Each attempt with the receiver's status, the latency, the start of its answer "
    "(at most 1 KB) or the error that prevented one.",
    responses=problems(NotFoundError),
)
async def get_webhook_delivery(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, context: WebhookManager, session: SessionDep
) -> WebhookDeliveryDetail:
    delivery = await webhook_deliveries.get_delivery(
        session=session, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    attempts = await webhook_deliveries.attempts_of(session=session, delivery_id=delivery.id)
    return WebhookDeliveryDetail(
        **WebhookDeliveryPublic.from_model(delivery).model_dump(),
        history=[WebhookAttemptPublic.from_model(attempt) for attempt in attempts],
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send one delivery again",
    description="A dead or succeeded delivery starts again from its first attempt, with the same "
    "`webhook-id` (receivers that deduplicate by it will recognise it). 409 while an attempt runs.",
    responses=problems(NotFoundError, WebhookEndpointDisabledError, WebhookDeliveryInProgressError),
)
async def replay_webhook_delivery(
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    context: WebhookManager,
    session: SessionDep,
    services: ServicesDep,
    _idempotent: Idempotent,
) -> WebhookDeliveryPublic:
    endpoint = await webhook_endpoints.get_endpoint(session=session, endpoint_id=endpoint_id)
    delivery = await webhook_deliveries.replay_delivery(
        session=session,
        context=context,
        endpoint=endpoint,
        delivery_id=delivery_id,
        max_attempts=webhook_deliveries.retry_policy(services.settings).max_attempts,
        waker=services.jobs,
        task=DELIVER_WEBHOOK,
    )
    return WebhookDeliveryPublic.from_model(delivery)
