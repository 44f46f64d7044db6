"""Who is calling: resolved once per request by the auth dependency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    """An API key: acts inside its one organization, with its scopes, as itself (not a user)."""

    api_key_id: uuid.UUID
    org_id: uuid.UUID
    scopes: frozenset[str]
    # The session was bound to the key's credential to find it; `open_organization` narrows it.
    credential_hash: str
    # When the key was last marked used (at most once a minute), to decide whether to mark it again.
    last_used_at: datetime | None


Caller = Principal | ApiKeyPrincipal
