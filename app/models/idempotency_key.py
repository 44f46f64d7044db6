"""Idempotency keys: the first successful response to a keyed POST, kept for its retries.

Not a tenant model: a key belongs to a caller (a user, across organizations, or an API key),
and the caller is part of `key_hash` (app/core/security/idempotency.py). Nothing here is
readable without the key: the request's fingerprint and the response are keyed by it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Nonce and AES-GCM ciphertext of the response: status, headers and body.
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Past it the key reads as absent; `purge_expired` deletes such rows (index for that).
    expires_at: Mapped[datetime] = mapped_column(index=True)
