"""Organizations and their members, as the API shows and accepts them."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, field_validator

from app.core.permissions import Role
from app.schemas.auth import examples
from app.schemas.common import Name, StrictInput, UtcDateTime, reject_null


class OrganizationPublic(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    created_at: UtcDateTime
    role: Role | None  # the caller's role in it; null for an API key


class OrganizationCreate(StrictInput):
    model_config = examples({"name": "Acme Corporation"})

    name: Name


class OrganizationUpdate(StrictInput):
    """PATCH: only the fields sent are applied."""

    model_config = examples({"name": "Acme Holdings"})

    name: Name | None = None

    _not_null = field_validator("name", mode="before")(reject_null)


class MemberPublic(BaseModel):
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Role


class MemberUpdate(StrictInput):
    model_config = examples({"role": "accountant"})

    role: Role


class OwnershipTransfer(StrictInput):
    model_config = examples({"user_id": "0192f5e4-6c1a-7b3e-9a41-3c2d5e6f7a8b"})

    user_id: uuid.UUID
