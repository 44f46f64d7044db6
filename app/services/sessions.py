"""Sign-out and session management: the user's devices, and ending them.

Revoking a session also puts its id in the revocation set, so its short-lived access tokens
stop working at once, and its refresh tokens are refused from then on.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import NotFoundError
from app.core.security.jwt import AccessTokenCodec, InvalidTokenError
from app.core.security.opaque import hash_token
from app.core.security.principal import Principal
from app.core.security.revocation import RevocationStore
from app.models import AuthSession, RefreshToken
from app.models.base import utcnow

# --- sign-out and session management -------------------------------------------------------


async def revoke_sessions(
    session: AsyncSession,
    *,
    revocations: RevocationStore,
    settings: Settings,
    session_ids: list[uuid.UUID],
) -> None:
    if not session_ids:
        return
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id.in_(session_ids), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    # Access tokens of these sessions die now; after their lifetime they would die anyway.
    await revocations.revoke(
        session_ids, ttl_seconds=settings.access_token_ttl_seconds + settings.jwt_leeway_seconds
    )


async def revoke_user_sessions(
    session: AsyncSession,
    *,
    revocations: RevocationStore,
    settings: Settings,
    user_id: uuid.UUID,
    keep: uuid.UUID | None = None,
) -> None:
    """End every live session of a user (password reset/change, logout everywhere)."""
    query = select(AuthSession.id).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    ids = list((await session.scalars(query)).all())
    await revoke_sessions(session, revocations=revocations, settings=settings, session_ids=ids)


async def logout(
    *, session: AsyncSession, revocations: RevocationStore, settings: Settings, principal: Principal
) -> None:
    await revoke_sessions(
        session, revocations=revocations, settings=settings, session_ids=[principal.session_id]
    )


async def logout_everywhere(
    *, session: AsyncSession, revocations: RevocationStore, settings: Settings, principal: Principal
) -> None:
    await revoke_user_sessions(session, revocations=revocations, settings=settings, user_id=principal.user_id)


async def list_sessions(
    *, session: AsyncSession, settings: Settings, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[AuthSession], int]:
    """The user's live sessions (not revoked, not past their absolute or idle limit), newest first."""
    now = utcnow()
    live = (
        AuthSession.user_id == user_id,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > now,
        AuthSession.last_used_at > now - timedelta(seconds=settings.refresh_token_idle_ttl_seconds),
    )
    total = await session.scalar(select(func.count()).select_from(AuthSession).where(*live))
    rows = await session.scalars(
        select(AuthSession)
        .where(*live)
        .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), int(total or 0)


async def end_session(
    *,
    session: AsyncSession,
    revocations: RevocationStore,
    settings: Settings,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
) -> None:
    """Sign out one of the user's own sessions; someone else's is 'not found'."""
    owned = await session.scalar(
        select(AuthSession.id).where(
            AuthSession.id == session_id, AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
        )
    )
    if owned is None:
        raise NotFoundError("No such session.")
    await revoke_sessions(session, revocations=revocations, settings=settings, session_ids=[owned])


async def revoke_token(
    *,
    session: AsyncSession,
    codec: AccessTokenCodec,
    revocations: RevocationStore,
    settings: Settings,
    token: str,
) -> None:
    """RFC 7009: revoke the session behind a refresh or access token. Unknown tokens: no-op."""
    try:
        session_id: uuid.UUID | None = codec.verify(token).session_id
    except InvalidTokenError:
        session_id = await session.scalar(
            select(RefreshToken.session_id).where(RefreshToken.token_hash == hash_token(token))
        )
    if session_id is not None:
        await revoke_sessions(session, revocations=revocations, settings=settings, session_ids=[session_id])
