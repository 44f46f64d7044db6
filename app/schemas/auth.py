"""Authentication requests and responses."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import EmailAddress, Name, StrictInput, UtcDateTime

# Bounds here are about hostile input; the password policy (length, common passwords) is
# applied by the service with the configured limits.
Password = Field(min_length=1, max_length=4096)
OpaqueToken = Field(min_length=16, max_length=512, pattern=r"^[A-Za-z0-9_\-.~+/=]+$")


class SignupRequest(StrictInput):
    email: EmailAddress
    password: str = Password
    full_name: Name
    organization_name: Name


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str


class VerifyEmailRequest(StrictInput):
    token: str = OpaqueToken


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class RefreshRequest(StrictInput):
    refresh_token: str = OpaqueToken


class ForgotPasswordRequest(StrictInput):
    email: EmailAddress


class ResetPasswordRequest(StrictInput):
    token: str = OpaqueToken
    new_password: str = Password


class BrowserSessionRequest(StrictInput):
    email: EmailAddress
    password: str = Password


class BrowserSessionPublic(BaseModel):
    session_id: uuid.UUID
    csrf_token: str = Field(description="Send back in X-CSRF-Token on POST/PUT/PATCH/DELETE.")
    expires_at: UtcDateTime


class SessionPublic(BaseModel):
    id: uuid.UUID
    kind: Literal["token", "browser"]
    created_at: UtcDateTime
    last_used_at: UtcDateTime
    expires_at: UtcDateTime
    user_agent: str | None
    ip_address: str | None
    current: bool
