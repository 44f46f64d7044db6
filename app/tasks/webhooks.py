"""Webhook tasks: the fan-out of an event to deliveries, a delivery's attempts, the purge.

- FAN_OUT_EVENT(event_id), published by the outbox relay for each committed event: one
  transaction inserts a delivery per subscribed, enabled endpoint (ON CONFLICT DO NOTHING, so
  a republished event adds none) and wakes each new one after the commit.
- DELIVER_WEBHOOK(delivery_id): one attempt through `run_leased`. `perform` resolves the
  host, refuses forbidden addresses (SSRF), signs (Standard Webhooks) and POSTs to the checked
  address; `record` keeps the attempt's row and moves the endpoint's failure streak (a success
  ends it; failing for WEBHOOK_DISABLE_AFTER_SECONDS, or a 410, disables the endpoint and
  mails its owners). Retries follow WEBHOOK_RETRY_SCHEDULE_SECONDS with jitter and the
  receiver's `Retry-After`; after the last, the delivery is dead and can be replayed.
- `webhooks.purge_deliveries`, daily: finished deliveries older than the retention go.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.contextvars import bound_contextvars

from app.clients import webhooks as webhook_client
from app.core.config import Settings
from app.core.logging import get_logger
from app.core.metrics import JobMetrics
from app.core.security.sealing import UnsealableError
from app.core.security.ssrf import Target, TargetRefusedError, resolve_target
from app.core.tracing import continued_trace, current_traceparent
from app.db.session.tenancy import bind_organization
from app.models import Event, WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow
from app.models.job import WorkStatus
from app.services import webhook_deliveries, webhook_signing
from app.services.leases import Outcome
from app.services.webhook_deliveries import AttemptRecord
from app.services.webhook_endpoints import target_policy
from app.tasks.context import WorkerContext
from app.tasks.leased import run_leased
from app.tasks.names import DELIVER_WEBHOOK, FAN_OUT_EVENT
from app.tasks.registry import periodic_task, work_task
from app.tasks.sweeper import sweep_also

logger = get_logger(__name__)
sweep_also(WebhookDelivery, DELIVER_WEBHOOK)


class _FirstAttemptsHere:
    """The fan-out's waker: no broker message per new delivery; this worker makes the first
    attempts itself once the fan-out has committed (a publish, a confirm and a message to parse
    fewer per delivery). The rows are durable and due: if this process dies first, the sweeper
    wakes them (JOB_REWAKE_AFTER_SECONDS)."""

    def wake_after_commit(self, session: AsyncSession, task: str, work_id: uuid.UUID) -> None:
        return None


@work_task(FAN_OUT_EVENT)
async def fan_out_event(context: WorkerContext, event_id: uuid.UUID) -> None:
    services = context.services
    async with context.unit_of_work() as session:
        created = await webhook_deliveries.fan_out(
            session=session,
            event_id=event_id,
            max_attempts=webhook_deliveries.retry_policy(services.settings).max_attempts,
            waker=_FirstAttemptsHere(),
            task=DELIVER_WEBHOOK,
        )
    if not created:
        return
    logger.debug("webhook_fanned_out", event_id=str(event_id), deliveries=len(created))
    outcomes = await asyncio.gather(
        *(_first_attempt(context, delivery_id) for delivery_id in created), return_exceptions=True
    )
    for delivery_id, outcome in zip(created, outcomes, strict=True):
        if isinstance(outcome, Exception):
            logger.error("webhook_first_attempt_failed", delivery_id=str(delivery_id), exc_info=outcome)


async def _first_attempt(context: WorkerContext, delivery_id: uuid.UUID) -> None:
    """A delivery's first attempt, as its own job would run it: its span (under the fan-out's)
    and the delivery's id on its log lines."""
    attributes = {"job.task": DELIVER_WEBHOOK, "job.id": str(delivery_id)}
    with (
        continued_trace(
            context.tracer_provider, f"job {DELIVER_WEBHOOK}", traceparent=None, attributes=attributes
        ),
        bound_contextvars(work_id=str(delivery_id)),
    ):
        await deliver_webhook(context, delivery_id)


def message_body(delivery: WebhookDelivery, event: Event | None) -> bytes:
    """The same bytes on every attempt: `{"type", "timestamp", "data"}` (Standard Webhooks)."""
    data: dict[str, Any]
    if event is None:
        occurred = delivery.created_at
        data = {"endpoint_id": str(delivery.endpoint_id), "message": "A test delivery from Invoicer."}
    else:
        occurred = event.occurred_at
        data = event.data
    timestamp = occurred.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return orjson.dumps({"type": delivery.event_type, "timestamp": timestamp, "data": data})


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


@dataclass(slots=True)
class _Attempt:
    """What `perform` learnt, for `record` to keep."""

    record: AttemptRecord | None = None
    endpoint: WebhookEndpoint | None = None
    gone: bool = False
    # When the event was committed (a ping: when it was asked for), for the latency metric.
    occurred_at: datetime | None = None


def _keys(context: WorkerContext, endpoint: WebhookEndpoint, now: datetime) -> list[bytes]:
    """The current secret's key, and the previous one's while its grace lasts (newest first)."""
    sealer = context.services.payload_sealer
    keys = [webhook_signing.secret_key(sealer.open(endpoint.secret, row_id=endpoint.id).decode())]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret is not None and expires is not None and expires > now:
        try:
            previous = sealer.open(endpoint.previous_secret, row_id=endpoint.id).decode()
        except UnsealableError:
            logger.warning("webhook_previous_secret_unsealable", endpoint_id=str(endpoint.id))
        else:
            keys.append(webhook_signing.secret_key(previous))
    return keys


async def _load(
    context: WorkerContext, delivery: WebhookDelivery
) -> tuple[WebhookEndpoint | None, Event | None]:
    async with context.unit_of_work() as session:
        await bind_organization(session, delivery.org_id)
        endpoint = await session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id)
        )
        event = None
        if delivery.event_id is not None:
            event = await session.scalar(select(Event).where(Event.id == delivery.event_id))
        return endpoint, event


async def _prepare(
    context: WorkerContext, delivery: WebhookDelivery, attempt: _Attempt, now: datetime
) -> tuple[WebhookEndpoint, Event | None, list[bytes]] | Outcome:
    """What the attempt needs, or the outcome that ends it before any request: no endpoint or
    event any more, a disabled endpoint, a secret that does not open (each gives up)."""
    endpoint, event = await _load(context, delivery)
    attempt.endpoint = endpoint
    if endpoint is None:
        return Outcome.failure("the endpoint was deleted", give_up=True)
    if delivery.event_id is not None and event is None:
        return Outcome.failure("the event no longer exists", give_up=True)
    refusal = None
    if not endpoint.enabled:
        refusal = "the endpoint is disabled"
    else:
        try:
            return endpoint, event, _keys(context, endpoint, now)
        except (UnsealableError, ValueError):
            refusal = "the signing secret does not open (SECRET_KEY changed?): rotate the endpoint's secret"
    attempt.record = AttemptRecord(attempted_at=now, error=refusal)
    return Outcome.failure(refusal, give_up=True)


async def _target(endpoint: WebhookEndpoint, settings: Settings) -> Target | str:
    """The checked address to connect to, or why there is none (refused, or not resolving)."""
    try:
        return await resolve_target(
            endpoint.url, target_policy(settings), timeout_seconds=settings.webhook_dns_timeout_seconds
        )
    except TargetRefusedError as refused:
        return f"refused before connecting: the URL {refused}"
    except (OSError, TimeoutError) as failed:
        return f"the host does not resolve: {type(failed).__name__}: {failed}"


def _judge(answer: webhook_client.Answer, attempt: _Attempt, now: datetime) -> Outcome:
    """2xx succeeds; 410 gives up (and disables the endpoint); anything else is retried, after
    at least the receiver's `Retry-After`. A redirect is a failure: it is never followed."""
    status = answer.status_code
    error = None
    if status == 410:
        error = "the endpoint answered 410 Gone"
        attempt.gone = True
    elif not 200 <= status < 300:
        error = f"the endpoint answered {status}"
        if 300 <= status < 400:
            error += " (a redirect, which is never followed)"
    attempt.record = AttemptRecord(
        attempted_at=now,
        status_code=status,
        latency_ms=answer.latency_ms,
        response_body=answer.body,
        error=error,
    )
    if error is None:
        return Outcome.success()
    retry_after = retry_after_seconds(answer.headers.get("retry-after"), now=utcnow())
    return Outcome.failure(error, retry_after=retry_after, give_up=attempt.gone)


async def attempt_delivery(context: WorkerContext, delivery: WebhookDelivery, attempt: _Attempt) -> Outcome:
    settings = context.services.settings
    now = utcnow()
    prepared = await _prepare(context, delivery, attempt, now)
    if isinstance(prepared, Outcome):
        return prepared
    endpoint, event, keys = prepared
    attempt.occurred_at = event.occurred_at if event is not None else delivery.created_at
    target = await _target(endpoint, settings)
    if isinstance(target, str):
        attempt.record = AttemptRecord(attempted_at=now, error=target)
        return Outcome.failure(target)
    body = message_body(delivery, event)
    headers = webhook_signing.delivery_headers(
        message_id=str(delivery.id),
        timestamp=int(time.time()),
        body=body,
        keys=keys,
        traceparent=current_traceparent(),  # this job's span, in the trace of the change
    )
    try:
        answer = await webhook_client.send(
            context.http,
            target,
            headers=headers,
            body=body,
            max_response_bytes=settings.webhook_max_response_bytes,
            timeout_seconds=settings.webhook_timeout_seconds,
        )
    except (httpx.HTTPError, TimeoutError, OSError) as failed:
        message = f"no answer: {type(failed).__name__}" + (f": {failed}" if str(failed) else "")
        attempt.record = AttemptRecord(attempted_at=now, error=message)
        return Outcome.failure(message)
    return _judge(answer, attempt, now)


async def record_delivery(
    context: WorkerContext,
    session: AsyncSession,
    delivery: WebhookDelivery,
    outcome: Outcome,
    attempt: _Attempt,
) -> None:
    settings = context.services.settings
    now = utcnow()
    record = attempt.record or AttemptRecord(attempted_at=now, error=outcome.error)
    webhook_deliveries.record_attempt(session, delivery, record)
    observe(context.metrics, outcome, record, occurred_at=attempt.occurred_at, now=now)
    endpoint = attempt.endpoint
    if endpoint is None or not endpoint.enabled:
        return
    if outcome.succeeded:
        await webhook_deliveries.note_success(session, endpoint.id)
        return
    if attempt.gone:
        reason = await webhook_deliveries.disable_gone(session, endpoint.id, now=now)
    else:
        reason = await webhook_deliveries.note_failure(
            session, endpoint.id, now=now, disable_after_seconds=settings.webhook_disable_after_seconds
        )
    if reason is not None:
        logger.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id), reason=reason)
        await webhook_deliveries.tell_owners_disabled(
            session, mailer=context.services.mailer, endpoint=endpoint, reason=reason
        )


def failure_reason(record: AttemptRecord) -> str:
    """A bounded label for the failures metric: the status class, or why there was no answer."""
    if record.status_code is not None:
        return "410" if record.status_code == 410 else f"{record.status_code // 100}xx"
    error = record.error or ""
    for prefix, reason in (
        ("refused before connecting", "refused"),
        ("the host does not resolve", "dns"),
        ("no answer", "no_answer"),
    ):
        if error.startswith(prefix):
            return reason
    return "gave_up"


def observe(
    metrics: JobMetrics,
    outcome: Outcome,
    record: AttemptRecord,
    *,
    occurred_at: datetime | None,
    now: datetime,
) -> None:
    if not outcome.succeeded:
        metrics.webhook_failures.labels(failure_reason(record)).inc()
    elif occurred_at is not None:
        metrics.webhook_latency.observe(max((now - occurred_at).total_seconds(), 0.0))


@work_task(DELIVER_WEBHOOK)
async def deliver_webhook(context: WorkerContext, delivery_id: uuid.UUID) -> None:
    attempt = _Attempt()

    async def perform(delivery: WebhookDelivery) -> Outcome:
        return await attempt_delivery(context, delivery, attempt)

    async def record(
        session: AsyncSession, delivery: WebhookDelivery, outcome: Outcome, _: WorkStatus
    ) -> None:
        await record_delivery(context, session, delivery, outcome, attempt)

    await run_leased(
        context,
        WebhookDelivery,
        delivery_id,
        task=DELIVER_WEBHOOK,
        policy=webhook_deliveries.retry_policy(context.services.settings),
        perform=perform,
        record=record,
    )


@periodic_task("webhooks.purge_deliveries", cron="30 3 * * *")
async def purge_deliveries(context: WorkerContext) -> None:
    days = context.services.settings.webhook_delivery_retention_days
    async with context.unit_of_work() as session:
        purged = await webhook_deliveries.purge_finished(session, before=utcnow() - timedelta(days=days))
    logger.info("webhook_deliveries_purged", count=purged)
