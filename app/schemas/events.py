"""Events as the API shows them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from app.core.events import EventType
from app.schemas.common import UtcDateTime

if TYPE_CHECKING:
    from app.models import Event


class EventActor(BaseModel):
    type: Literal["user", "api_key", "system"] = Field(
        description="A member (`user`), a program (`api_key`), or Invoicer itself (`system`, no id)."
    )
    id: uuid.UUID | None


class EventPublic(BaseModel):
    id: uuid.UUID
    type: EventType
    occurred_at: UtcDateTime
    data: dict[str, Any] = Field(
        description="The object as the API returned it with this change (for `*.deleted`, as it "
        "was): the same shape as reading it, e.g. a customer."
    )
    request_id: str | None = Field(description="The `X-Request-ID` of the request that made the change.")
    actor: EventActor

    @classmethod
    def from_model(cls, event: Event) -> EventPublic:
        return cls(
            id=event.id,
            type=event.type,
            occurred_at=event.occurred_at,
            data=event.data,
            request_id=event.request_id,
            actor=EventActor.model_validate({"type": event.actor_type, "id": event.actor_id}),
        )
