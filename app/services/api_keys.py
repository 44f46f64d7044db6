"""API keys: created by members with api_keys:manage, shown once, found by their secret.

A key acts inside its one organization with its scopes, which never exceed what its creator
held when creating it, and never include `org:manage` (deleting or handing over an
organization is for a person). A revoked or expired key is refused on its very next request:
each request looks the key up (one indexed read, in the request's own transaction).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ApiKeyLimitError, InvalidAccessTokenError, InvalidInputError, NotFoundError
from app.core.permissions import Permission
from app.core.security.api_keys import ApiKeyHasher, new_api_key
from app.core.security.principal import ApiKeyPrincipal
from app.db.session.tenancy import bind_credential
from app.models import ApiKey
from app.models.base import utcnow
from app.services import audit
from app.services.organizations import OrgContext, lock_organization

# Never grantable to a key: see the module docstring.
NOT_FOR_KEYS = frozenset({Permission.ORG_MANAGE})
MAX_LIFETIME = timedelta(days=5 * 365)
# A key's last use is written at most this often (a busy key would otherwise write every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    key: ApiKey
    secret: str  # shown once, in the creation's response


@dataclass(frozen=True, slots=True)
class ApiKeyPage:
    items: list[ApiKey]
    total: int


async def principal_from_api_key(
    *, session: AsyncSession, hasher: ApiKeyHasher, secret: str
) -> ApiKeyPrincipal:
    """The live key behind `secret`, or 401 (unknown, revoked and expired alike)."""
    credential_hash = hasher.hash(secret)
    await bind_credential(session, credential_hash)
    now = utcnow()
    key = await session.scalar(
        select(ApiKey).where(
            ApiKey.secret_hash == credential_hash,
            ApiKey.revoked_at.is_(None),
            (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
        )
    )
    if key is None:
        raise InvalidAccessTokenError("The API key is invalid, expired or revoked.")
    return ApiKeyPrincipal(
        api_key_id=key.id,
        org_id=key.org_id,
        scopes=frozenset(key.scopes),
        credential_hash=credential_hash,
        last_used_at=key.last_used_at,
    )


def needs_touch(principal: ApiKeyPrincipal, now: datetime) -> bool:
    return principal.last_used_at is None or now - principal.last_used_at >= LAST_USED_RESOLUTION


async def touch(*, session: AsyncSession, api_key_id: uuid.UUID, now: datetime) -> None:
    """Mark the key used: run after the response, in a session bound to the key's organization.

    Conditional, so concurrent requests of one key write it once per interval at most.
    """
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == api_key_id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at <= now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


async def create_api_key(
    *,
    session: AsyncSession,
    context: OrgContext,
    hasher: ApiKeyHasher,
    name: str,
    scopes: list[Permission],
    expires_at: datetime | None,
    max_per_org: int,
) -> CreatedApiKey:
    too_much = set(scopes) - (context.permissions - NOT_FOR_KEYS)
    if too_much:
        listed = ", ".join(sorted(permission.value for permission in too_much))
        raise InvalidInputError(["body", "scopes"], f"may not include {listed}", "scope_not_grantable")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInputError(["body", "expires_at"], "must be in the future", "expiry_in_past")
    if expires_at is not None and expires_at > utcnow() + MAX_LIFETIME:
        raise InvalidInputError(["body", "expires_at"], "must be within 5 years", "expiry_too_far")
    await lock_organization(session, context)
    live = await session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None)))
    if (live or 0) >= max_per_org:
        raise ApiKeyLimitError(
            f"An organization may have at most {max_per_org} live API keys; revoke one first."
        )
    secret = new_api_key()
    key = ApiKey(
        org_id=context.org_id,
        name=name,
        display_prefix=secret[:11],
        secret_hash=hasher.hash(secret),
        scopes=sorted(permission.value for permission in set(scopes)),
        created_by=context.user_id,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    audit.record(
        session,
        context,
        action="api_key.created",
        target_type="api_key",
        target_id=key.id,
        changes={"name": name, "scopes": key.scopes},
    )
    return CreatedApiKey(key=key, secret=secret)


async def list_api_keys(*, session: AsyncSession, limit: int, offset: int) -> ApiKeyPage:
    live = select(ApiKey).where(ApiKey.revoked_at.is_(None))
    total = await session.scalar(select(func.count()).select_from(live.subquery()))
    keys = await session.scalars(
        live.order_by(ApiKey.created_at.desc(), ApiKey.id.desc()).limit(limit).offset(offset)
    )
    return ApiKeyPage(items=list(keys), total=total or 0)


async def revoke_api_key(*, session: AsyncSession, context: OrgContext, api_key_id: uuid.UUID) -> None:
    revoked = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == api_key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ApiKey.id)
        .execution_options(synchronize_session=False)
    )
    if revoked.first() is None:
        raise NotFoundError("No such API key.")
    audit.record(session, context, action="api_key.revoked", target_type="api_key", target_id=api_key_id)
