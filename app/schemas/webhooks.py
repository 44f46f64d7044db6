"""Webhook endpoints and deliveries as the API shows and accepts them; the signing secret
appears only in the answers to a creation and a rotation."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from app.core.events import EventType
from app.core.security.ssrf import TargetRefusedError, normalise_url
from app.models.job import WorkStatus
from app.models.webhook import URL_MAX_LENGTH
from app.schemas.auth import examples
from app.schemas.common import SingleLineText, StrictInput, UtcDateTime, reject_null

if TYPE_CHECKING:
    from app.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

EXAMPLE_URL = "https://hooks.example.com/invoicer"


def _url(value: str) -> str:
    if len(value) > URL_MAX_LENGTH:
        raise PydanticCustomError("string_too_long", "at most {limit} characters", {"limit": URL_MAX_LENGTH})
    try:
        normalised = normalise_url(value)
    except TargetRefusedError as error:
        raise PydanticCustomError("url_refused", "{reason}", {"reason": str(error)}) from None
    if len(normalised) > URL_MAX_LENGTH:
        raise PydanticCustomError("string_too_long", "at most {limit} characters", {"limit": URL_MAX_LENGTH})
    return normalised


# Shape only here (absolute http(s), a host, no credentials; IDN hosts stored as punycode);
# the service refuses the addresses we never send to (app/core/security/ssrf.py).
EndpointUrl = Annotated[
    str,
    AfterValidator(_url),
    WithJsonSchema(
        {"type": "string", "format": "uri", "maxLength": URL_MAX_LENGTH, "examples": [EXAMPLE_URL]}
    ),
]


def _unique_sorted(value: list[EventType]) -> list[EventType]:
    return sorted(set(value))


EventTypes = Annotated[
    list[EventType],
    Field(
        min_length=1,
        max_length=len(EventType),
        description="The event types this endpoint receives (at least one; repeats count once).",
    ),
    AfterValidator(_unique_sorted),
]
Description = Annotated[str, SingleLineText(max_length=500)]


class WebhookEndpointCreate(StrictInput):
    model_config = examples(
        {
            "url": EXAMPLE_URL,
            "event_types": ["invoice.finalized", "invoice.paid"],
            "description": "Accounting sync",
            "enabled": True,
        }
    )

    url: EndpointUrl
    event_types: EventTypes
    description: Description | None = None
    enabled: bool = True


class WebhookEndpointUpdate(StrictInput):
    """PATCH: only the fields sent are applied; null clears `description`. Enabling an endpoint
    that was disabled clears its reason."""

    model_config = examples({"enabled": True}, {"event_types": ["invoice.paid"], "description": None})

    url: EndpointUrl | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None

    _not_null = field_validator("url", "event_types", "enabled", mode="before")(reject_null)


class WebhookEndpointPublic(BaseModel):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why Invoicer disabled it (a 410 Gone, or deliveries failing for too long); "
        "null when enabled, or disabled by a member."
    )
    disabled_at: UtcDateTime | None
    previous_secret_expires_at: UtcDateTime | None = Field(
        description="After a rotation: until then, deliveries are signed with the previous secret too."
    )
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def from_model(cls, endpoint: WebhookEndpoint) -> WebhookEndpointPublic:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            description=endpoint.description,
            event_types=list(endpoint.event_types),
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            disabled_at=endpoint.disabled_at,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class WebhookEndpointWithSecret(WebhookEndpointPublic):
    secret: str = Field(
        description="The signing secret (`whsec_...`, Standard Webhooks): shown this once, never again."
    )


class WebhookDeliveryPublic(BaseModel):
    id: uuid.UUID = Field(description="Also the `webhook-id` header of each of its requests.")
    endpoint_id: uuid.UUID
    event_id: uuid.UUID | None = Field(description="The event delivered; null for a test ping.")
    event_type: str
    status: WorkStatus
    attempts: int
    max_attempts: int
    next_attempt_at: UtcDateTime | None = Field(description="When a pending delivery is tried next.")
    last_error: str | None
    created_at: UtcDateTime
    finished_at: UtcDateTime | None

    @classmethod
    def from_model(cls, delivery: WebhookDelivery) -> WebhookDeliveryPublic:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            max_attempts=delivery.max_attempts,
            next_attempt_at=delivery.next_attempt_at if delivery.status is WorkStatus.PENDING else None,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            finished_at=delivery.finished_at,
        )


class WebhookAttemptPublic(BaseModel):
    attempted_at: UtcDateTime
    status_code: int | None = Field(description="The receiver's status; null when none came.")
    latency_ms: int | None
    response_body: str | None = Field(description="The start of the receiver's answer (at most 1 KB).")
    error: str | None

    @classmethod
    def from_model(cls, attempt: WebhookDeliveryAttempt) -> WebhookAttemptPublic:
        return cls(
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            response_body=attempt.response_body,
            error=attempt.error,
        )


class WebhookDeliveryDetail(WebhookDeliveryPublic):
    history: list[WebhookAttemptPublic] = Field(description="Every attempt, oldest first.")


class WebhookReplayRequest(StrictInput):
    model_config = examples({"since": "2026-11-30T00:00:00Z"})

    since: AwareDatetime = Field(description="Dead deliveries created from then on are sent again.")


class WebhookReplayed(BaseModel):
    requeued: int = Field(description="How many dead deliveries were queued again (at most 1000 per call).")
