"""Idempotency keys: a retried POST gets the first response instead of doing the work twice.

The rules (README, "Idempotency"):
- `begin` runs before the operation, in the request's transaction. On PostgreSQL it first
  takes a transaction-scoped advisory lock on the key, without waiting: a second request with
  the key while the first is still running is refused at once (409) instead of queueing behind
  the first one's row lock. Then the stored row, if any and not expired, is replayed when the
  request is the same (same fingerprint), or refused (422) when it is not.
- `record` runs after the operation succeeded, in the same transaction: the key is committed
  with the effect, or rolled back with it.
- On SQLite writers are serialised by the database: two concurrent requests with the key both
  find no row and run; whichever inserts the key second meets the other's committed key and
  is refused (409, rolled back).

Only the caller's key material (app/core/security/idempotency.py) can read a stored response.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import IdempotencyKeyReusedError, IdempotencyRequestInFlightError
from app.core.security.idempotency import KeyMaterial, SealedResponseError
from app.models import IdempotencyKey


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def to_bytes(self) -> bytes:
        # orjson never writes a raw newline: the first one ends the head, the body follows as is.
        head = orjson.dumps({"status": self.status, "headers": [list(pair) for pair in self.headers]})
        return head + b"\n" + self.body

    @classmethod
    def from_bytes(cls, data: bytes) -> StoredResponse:
        head, _, body = data.partition(b"\n")
        parsed = orjson.loads(head)
        return cls(
            status=int(parsed["status"]),
            headers=tuple((str(name), str(value)) for name, value in parsed["headers"]),
            body=body,
        )


async def begin(
    session: AsyncSession, *, material: KeyMaterial, fingerprint: str, now: datetime
) -> StoredResponse | None:
    """The response to replay, or None: go ahead, and `record` the outcome."""
    if session.get_bind().dialect.name == "postgresql":
        locked = await session.scalar(select(func.pg_try_advisory_xact_lock(material.lock_id)))
        if not locked:
            raise IdempotencyRequestInFlightError
    row = await session.get(IdempotencyKey, material.lookup_hash)
    if row is None:
        return None
    if row.expires_at > now:
        if not hmac.compare_digest(row.fingerprint, fingerprint):
            raise IdempotencyKeyReusedError
        try:
            return StoredResponse.from_bytes(material.open(row.response))
        except SealedResponseError:
            pass  # altered at rest: nothing to replay, the request runs as new
    # Deleted in this transaction: if the request fails, the old row comes back, harmlessly.
    await session.delete(row)
    await session.flush()
    return None


async def record(
    session: AsyncSession,
    *,
    material: KeyMaterial,
    fingerprint: str,
    response: StoredResponse,
    now: datetime,
    ttl: timedelta,
) -> None:
    session.add(
        IdempotencyKey(
            key_hash=material.lookup_hash,
            fingerprint=fingerprint,
            response=material.seal(response.to_bytes()),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    try:
        await session.flush()
    except IntegrityError as error:
        # Only without the advisory lock (SQLite): a concurrent request committed the key first.
        raise IdempotencyRequestInFlightError from error


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete the keys past their expiry (they already read as absent); how many were deleted."""
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
