"""Webhooks: an organization's endpoints, the deliveries of its events to them, their attempts.

A delivery is durable work (`LeasedWork`, app/services/leases.py): one row per endpoint and
event, unique, so an event fanned out twice (the relay publishes at least once) is delivered
once. A test ping has no event (`event_id` null, `event_type` `webhook.ping`). Each attempt
leaves a row with what the receiver answered, for the endpoint's owner to read.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.session.tenancy import TenantScoped
from app.models.base import Base, Timestamps, UUIDPrimaryKey, utcnow
from app.models.job import LeasedWork, leased_work_table_args

PING_EVENT_TYPE = "webhook.ping"
URL_MAX_LENGTH = 2048
RESPONSE_BODY_MAX_LENGTH = 1024


class WebhookEndpoint(UUIDPrimaryKey, Timestamps, TenantScoped, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(URL_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(String(500))
    # Event type values (app/core/events.py); never empty (docs/webhooks.md).
    event_types: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None]
    # The signing secret (`whsec_...`), sealed with the row's id (app/core/security/sealing.py).
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    # The secret before the last rotation, still signed with until `previous_secret_expires_at`.
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]
    # The first failed attempt since the last success: the endpoint is disabled once deliveries
    # have kept failing for WEBHOOK_DISABLE_AFTER_SECONDS from then.
    failing_since: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class WebhookDelivery(UUIDPrimaryKey, TenantScoped, LeasedWork, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        *leased_work_table_args("webhook_deliveries"),
        # One delivery per endpoint and event: the fan-out inserts ON CONFLICT DO NOTHING.
        UniqueConstraint("endpoint_id", "event_id"),
        # An endpoint's deliveries, newest first, in keyset pages.
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        # The purge: finished deliveries, oldest first.
        Index("ix_webhook_deliveries_finished_at", "finished_at"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(64))


class WebhookDeliveryAttempt(UUIDPrimaryKey, TenantScoped, Base):
    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (Index("ix_webhook_delivery_attempts_delivery_id_id", "delivery_id", "id"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    # The start of the receiver's answer (WEBHOOK_MAX_RESPONSE_BYTES, at most 1 KB kept), as text.
    response_body: Mapped[str | None] = mapped_column(String(RESPONSE_BODY_MAX_LENGTH))
    error: Mapped[str | None] = mapped_column(String(1000))
