"""Audit log entries as the API shows them."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from app.schemas.common import UtcDateTime


class AuditLogEntryPublic(BaseModel):
    id: uuid.UUID
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    request_id: str | None
    client_ip: str | None
    changes: dict[str, Any]
    created_at: UtcDateTime
