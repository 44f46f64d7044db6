"""Authentication requests and responses."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from app.schemas.common import EmailAddress, Name, StrictInput, UtcDateTime

# Bounds here are about hostile input; the password policy (length, common passwords) is
# applied by the service with the configured limits.
Password = Field(min_length=1, max_length=4096)
OpaqueToken = Field(min_length=16, max_length=512, pattern=r"^[A-Za-z0-9_\-.~+/=]+$")
# Request examples, shown in the docs and used by generated clients' tests: well-formed values
# (an emailed token or a refresh token looks like these), never real ones.
EXAMPLE_EMAIL = "ada@example.com"
EXAMPLE_PASSWORD = "correct horse battery staple"
EXAMPLE_TOKEN = "Qm9vdHN0cmFwIHRva2VuIGV4YW1wbGU"


def examples(*bodies: JsonDict) -> ConfigDict:
    """OpenAPI 3.1 / JSON Schema `examples` (the list), not the deprecated singular `example`."""
    return ConfigDict(json_schema_extra={"examples": list(bodies)})


class SignupRequest(StrictInput):
    model_config = examples(
        {
            "email": EXAMPLE_EMAIL,
            "password": EXAMPLE_PASSWORD,
            "full_name": "Ada Lovelace",
            "organization_name": "Analytical Engines Ltd",
        }
    )

    email: EmailAddress
    password: str = Password
    full_name: Name
    organization_name: Name


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str


class VerifyEmailRequest(StrictInput):
    model_config = examples({"token": EXAMPLE_TOKEN})

    token: str = OpaqueToken


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class RefreshRequest(StrictInput):
    model_config = examples({"refresh_token": EXAMPLE_TOKEN})

    refresh_token: str = OpaqueToken


class ForgotPasswordRequest(StrictInput):
    model_config = examples({"email": EXAMPLE_EMAIL})

    email: EmailAddress


class ResetPasswordRequest(StrictInput):
    model_config = examples({"token": EXAMPLE_TOKEN, "new_password": "a brand new long passphrase"})

    token: str = OpaqueToken
    new_password: str = Password


class BrowserSessionRequest(StrictInput):
    model_config = examples({"email": EXAMPLE_EMAIL, "password": EXAMPLE_PASSWORD})

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
