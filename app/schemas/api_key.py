"""API keys as the API shows and accepts them; the secret appears once, in the creation's answer."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from app.core.permissions import Permission
from app.schemas.auth import examples
from app.schemas.common import SingleLineText, StrictInput, UtcDateTime

KeyName = Annotated[str, SingleLineText(max_length=100)]


class ApiKeyCreate(StrictInput):
    model_config = examples(
        {"name": "Accounting sync", "scopes": ["invoices:read", "customers:read"], "expires_at": None}
    )

    name: KeyName
    scopes: list[Permission] = Field(
        min_length=1,
        max_length=len(Permission),
        description="Permissions the key holds: some of yours, never `org:manage`.",
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="With a time zone; within 5 years. Refused from then on; none: until revoked.",
    )


class ApiKeyPublic(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="`ik_` and the secret's first 8 characters, to tell keys apart.")
    scopes: list[str]
    created_by: uuid.UUID | None
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    last_used_at: UtcDateTime | None = Field(description="Updated at most once a minute.")


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(
        description="The key itself: shown this once, never again. Send it as `Bearer ik_...`."
    )
