"""Webhook deliveries: made by the fan-out of an event (or a ping), tried by workers, read and
replayed through the API, purged when old.

A delivery is durable work (app/services/leases.py); the attempts themselves run in
app/tasks/webhooks.py. What is here is what happens in the database: the fan-out's
idempotent insert, the record of each attempt with the endpoint's failure streak (and its
automatic disabling), the lists, the replays and the purge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Insert, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.email import OutgoingEmail
from app.core.config import Settings
from app.core.errors import NotFoundError, WebhookDeliveryInProgressError, WebhookEndpointDisabledError
from app.core.permissions import Role
from app.models import Event, Membership, User, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from app.models.base import new_id, utcnow
from app.models.job import WorkStatus
from app.models.webhook import PING_EVENT_TYPE, RESPONSE_BODY_MAX_LENGTH
from app.services import audit
from app.services.emails import Mailer
from app.services.leases import ERROR_LENGTH, RetryPolicy
from app.services.organizations import OrgContext

NO_SUCH_DELIVERY = "No such delivery."
# An endpoint's replay re-queues at most this many dead deliveries per call (the oldest first).
REPLAY_BATCH = 1000
_DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]


def retry_policy(settings: Settings) -> RetryPolicy:
    """WEBHOOK_RETRY_SCHEDULE_SECONDS: the delays between a delivery's attempts."""
    return RetryPolicy(schedule=tuple(settings.webhook_retry_schedule_seconds))


class Waker(Protocol):
    """Wakes a row's task once the session's transaction commits (app/tasks/queue.py)."""

    def wake_after_commit(self, session: AsyncSession, task: str, work_id: uuid.UUID) -> None: ...


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: list[WebhookDelivery]
    has_more: bool


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What one attempt came to, as its row keeps it."""

    attempted_at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    response_body: bytes | None = None
    error: str | None = None


def _new_row(
    *,
    org_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    event_id: uuid.UUID | None,
    event_type: str,
    max_attempts: int,
    now: datetime,
) -> dict[str, object]:
    return {
        "id": new_id(),
        "org_id": org_id,
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event_type,
        "status": WorkStatus.PENDING.value,
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": now,
        "enqueued_at": now,
        "created_at": now,
    }


async def fan_out(
    *, session: AsyncSession, event_id: uuid.UUID, max_attempts: int, waker: Waker, task: str
) -> list[uuid.UUID]:
    """One delivery per enabled endpoint of the event's organization subscribed to its type and
    registered before it happened, inserted ON CONFLICT DO NOTHING: an event fanned out again
    creates none. Each new one is woken once this transaction commits. Returns their ids."""
    event = await session.scalar(select(Event).where(Event.id == event_id))
    if event is None:
        return []
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.org_id == event.org_id,
            WebhookEndpoint.enabled.is_(True),
            # An endpoint hears of what happened after it was registered, not of a backlog the
            # relay happens to pass on later (a relay that was down, a new organization's seed).
            WebhookEndpoint.created_at <= event.occurred_at,
        )
    )
    now = utcnow()
    rows = [
        _new_row(
            org_id=event.org_id,
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=event.type.value,
            max_attempts=max_attempts,
            now=now,
        )
        for endpoint in endpoints
        if event.type.value in endpoint.event_types
    ]
    if not rows:
        return []
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement: Insert = (
        insert(_DELIVERIES)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        .returning(_DELIVERIES.c.id)
    )
    created = list(await session.scalars(statement))
    for delivery_id in created:
        waker.wake_after_commit(session, task, delivery_id)
    return created


def _ensure_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise WebhookEndpointDisabledError("This endpoint is disabled; enable it first.")


async def create_ping(
    *,
    session: AsyncSession,
    context: OrgContext,
    endpoint: WebhookEndpoint,
    max_attempts: int,
    waker: Waker,
    task: str,
) -> WebhookDelivery:
    """A `webhook.ping` delivery (no event), sent like any other."""
    _ensure_enabled(endpoint)
    row = _new_row(
        org_id=context.org_id,
        endpoint_id=endpoint.id,
        event_id=None,
        event_type=PING_EVENT_TYPE,
        max_attempts=max_attempts,
        now=utcnow(),
    )
    delivery = WebhookDelivery(**row)
    session.add(delivery)
    await session.flush()
    waker.wake_after_commit(session, task, delivery.id)
    return delivery


async def list_deliveries(
    *,
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    statuses: frozenset[WorkStatus],
    after: uuid.UUID | None,
    limit: int,
) -> DeliveryPage:
    """Newest first (ids are time-ordered), from after the cursor's position."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(WebhookDelivery.id < after)
    if statuses:
        query = query.where(WebhookDelivery.status.in_(sorted(statuses)))
    rows = list(await session.scalars(query))
    return DeliveryPage(items=rows[:limit], has_more=len(rows) > limit)


async def get_delivery(
    *, session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    delivery = await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
        )
    )
    if delivery is None:
        raise NotFoundError(NO_SUCH_DELIVERY)
    return delivery


async def attempts_of(*, session: AsyncSession, delivery_id: uuid.UUID) -> list[WebhookDeliveryAttempt]:
    rows = await session.scalars(
        select(WebhookDeliveryAttempt)
        .where(WebhookDeliveryAttempt.delivery_id == delivery_id)
        .order_by(WebhookDeliveryAttempt.id)
    )
    return list(rows)


def _restart(max_attempts: int, now: datetime) -> dict[str, object]:
    return {
        "status": WorkStatus.PENDING,
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": now,
        "enqueued_at": now,
        "finished_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
    }


async def replay_delivery(
    *,
    session: AsyncSession,
    context: OrgContext,
    endpoint: WebhookEndpoint,
    delivery_id: uuid.UUID,
    max_attempts: int,
    waker: Waker,
    task: str,
) -> WebhookDelivery:
    """Send a delivery again from its first attempt, with the same `webhook-id`: a dead or
    succeeded one (or a pending one, now); one whose attempt is running is a 409."""
    delivery = await get_delivery(session=session, endpoint_id=endpoint.id, delivery_id=delivery_id)
    _ensure_enabled(endpoint)
    now = utcnow()
    restarted = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status != WorkStatus.RUNNING)
        .values(**_restart(max_attempts, now))
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    if restarted.first() is None:
        raise WebhookDeliveryInProgressError("An attempt of this delivery is running; wait for its outcome.")
    await session.refresh(delivery)
    audit.record(
        session,
        context,
        action="webhook_delivery.replayed",
        target_type="webhook_delivery",
        target_id=delivery.id,
        changes={"endpoint_id": str(endpoint.id)},
    )
    waker.wake_after_commit(session, task, delivery.id)
    return delivery


async def replay_dead_since(
    *,
    session: AsyncSession,
    context: OrgContext,
    endpoint: WebhookEndpoint,
    since: datetime,
    max_attempts: int,
    waker: Waker,
    task: str,
) -> int:
    """Every dead delivery of the endpoint created from `since` on (at most REPLAY_BATCH, the
    oldest first) starts again; how many did."""
    _ensure_enabled(endpoint)
    chosen = list(
        await session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status == WorkStatus.DEAD,
                WebhookDelivery.created_at >= since,
            )
            .order_by(WebhookDelivery.id)
            .limit(REPLAY_BATCH)
        )
    )
    if not chosen:
        return 0
    restarted = list(
        await session.scalars(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(chosen), WebhookDelivery.status == WorkStatus.DEAD)
            .values(**_restart(max_attempts, utcnow()))
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
    )
    audit.record(
        session,
        context,
        action="webhook_endpoint.replayed",
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        changes={"since": since.isoformat(), "requeued": len(restarted)},
    )
    for delivery_id in restarted:
        waker.wake_after_commit(session, task, delivery_id)
    return len(restarted)


def record_attempt(session: AsyncSession, delivery: WebhookDelivery, attempt: AttemptRecord) -> None:
    body = attempt.response_body
    text = body.decode("utf-8", errors="replace")[:RESPONSE_BODY_MAX_LENGTH] if body is not None else None
    session.add(
        WebhookDeliveryAttempt(
            org_id=delivery.org_id,
            delivery_id=delivery.id,
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            response_body=text,
            error=attempt.error[:ERROR_LENGTH] if attempt.error else None,
        )
    )


async def note_success(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """The endpoint answered: its failure streak ends."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None)
        .execution_options(synchronize_session=False)
    )


async def note_failure(
    session: AsyncSession, endpoint_id: uuid.UUID, *, now: datetime, disable_after_seconds: float
) -> str | None:
    """Extend the endpoint's failure streak; disable it once the streak is old enough. The
    reason, when this call disabled it."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )
    since = now - timedelta(seconds=disable_after_seconds)
    reason = f"deliveries kept failing for more than {_duration(disable_after_seconds)}"
    return await _disable(session, endpoint_id, now=now, reason=reason, failing_before=since)


async def disable_gone(session: AsyncSession, endpoint_id: uuid.UUID, *, now: datetime) -> str | None:
    """The receiver said 410 Gone: disabled at once. The reason, when this call disabled it."""
    return await _disable(session, endpoint_id, now=now, reason="the endpoint answered 410 Gone")


async def _disable(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    *,
    now: datetime,
    reason: str,
    failing_before: datetime | None = None,
) -> str | None:
    conditions = [WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True)]
    if failing_before is not None:
        conditions.append(WebhookEndpoint.failing_since <= failing_before)
    result = await session.execute(
        update(WebhookEndpoint)
        .where(*conditions)
        .values(
            enabled=False,
            disabled_at=now,
            disabled_reason=reason,
            updated_at=now,
            version=WebhookEndpoint.version + 1,  # its representation changed: a new ETag
        )
        .returning(WebhookEndpoint.id)
        .execution_options(synchronize_session=False)
    )
    return reason if result.first() is not None else None


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:g} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:g} hours"
    return f"{seconds:g} seconds"


async def owner_addresses(session: AsyncSession, org_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id, Membership.role == Role.OWNER)
        .order_by(User.email)
    )
    return list(rows)


async def tell_owners_disabled(
    session: AsyncSession, *, mailer: Mailer, endpoint: WebhookEndpoint, reason: str
) -> None:
    """Mail each owner of the endpoint's organization, durably, in this transaction."""
    for address in await owner_addresses(session, endpoint.org_id):
        message = OutgoingEmail(
            to=address,
            subject="Invoicer disabled a webhook endpoint",
            body=(
                f"Invoicer stopped sending webhooks to {endpoint.url}: {reason}.\n\n"
                "Deliveries that could not be made are kept for you to replay. Once the endpoint "
                "answers again, enable it (PATCH the endpoint with enabled: true) and replay them "
                f"(POST .../webhook-endpoints/{endpoint.id}/replay).\n"
            ),
        )
        # Once per disabling: only the call whose conditional UPDATE disabled it gets here.
        mailer.send_later(session, message, org_id=endpoint.org_id)


async def purge_finished(session: AsyncSession, *, before: datetime) -> int:
    """Delete succeeded and dead deliveries finished before `before` (attempts cascade)."""
    result = await session.execute(
        delete(WebhookDelivery)
        .where(
            WebhookDelivery.status.in_((WorkStatus.SUCCEEDED, WorkStatus.DEAD)),
            WebhookDelivery.finished_at < before,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
