"""Invitations as the API shows and accepts them (the token travels only in the email)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from app.core.permissions import Role
from app.schemas.auth import EXAMPLE_EMAIL, EXAMPLE_PASSWORD, EXAMPLE_TOKEN, OpaqueToken, Password, examples
from app.schemas.common import EmailAddress, Name, StrictInput, UtcDateTime


class InvitationCreate(StrictInput):
    model_config = examples({"email": EXAMPLE_EMAIL, "role": "accountant"})

    email: EmailAddress
    role: Role


class InvitationPublic(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    invited_by: uuid.UUID | None
    created_at: UtcDateTime
    expires_at: UtcDateTime


class InvitationAccept(StrictInput):
    model_config = examples({"token": EXAMPLE_TOKEN})

    token: str = OpaqueToken


class InvitationSignup(StrictInput):
    model_config = examples(
        {"token": EXAMPLE_TOKEN, "password": EXAMPLE_PASSWORD, "full_name": "Ada Lovelace"}
    )

    token: str = OpaqueToken
    password: str = Password
    full_name: Name


class Joined(BaseModel):
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
