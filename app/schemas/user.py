"""The signed-in user's own account."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from app.core.permissions import Role
from app.schemas.auth import EXAMPLE_PASSWORD, examples
from app.schemas.common import Name, StrictInput, UtcDateTime, reject_null


class MembershipPublic(BaseModel):
    org_id: uuid.UUID
    org_name: str
    org_slug: str
    role: Role


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    email_verified: bool
    created_at: UtcDateTime
    memberships: list[MembershipPublic]


class UserUpdate(StrictInput):
    """PATCH: only the fields sent are applied."""

    model_config = examples({"full_name": "Ada King"})

    full_name: Name | None = None

    _not_null = field_validator("full_name", mode="before")(reject_null)


class PasswordChangeRequest(StrictInput):
    model_config = examples(
        {
            "current_password": EXAMPLE_PASSWORD,
            "new_password": "a brand new long passphrase",
            "sign_out_other_sessions": True,
        }
    )

    current_password: str = Field(min_length=1, max_length=4096)
    new_password: str = Field(min_length=1, max_length=4096)
    sign_out_other_sessions: bool = True

    @model_validator(mode="after")
    def _new_differs_from_current(self) -> PasswordChangeRequest:
        # A cross-field rule on input alone: the schema's job, before any hashing happens.
        if self.new_password == self.current_password:
            raise PydanticCustomError("password_unchanged", "new_password must differ from current_password")
        return self
