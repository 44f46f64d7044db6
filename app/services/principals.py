"""Who is calling: the principal behind a bearer access token or a browser-session cookie."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import InvalidAccessTokenError
from app.core.security.jwt import AccessTokenCodec, InvalidTokenError
from app.core.security.opaque import hash_token
from app.core.security.principal import Principal
from app.core.security.revocation import RevocationStore
from app.models import AuthSession
from app.models.base import utcnow


async def principal_from_access_token(
    *, codec: AccessTokenCodec, revocations: RevocationStore, token: str
) -> Principal:
    """Verify signature and claims, then one revocation-set lookup: no database round trip."""
    try:
        claims = codec.verify(token)
    except InvalidTokenError as exc:
        raise InvalidAccessTokenError from exc
    if await revocations.is_revoked(claims.session_id):
        raise InvalidAccessTokenError
    return Principal(user_id=claims.user_id, session_id=claims.session_id)


async def principal_from_cookie(
    *, session: AsyncSession, settings: Settings, cookie_token: str
) -> Principal | None:
    now = utcnow()
    auth_session = await session.scalar(
        select(AuthSession).where(
            AuthSession.cookie_hash == hash_token(cookie_token),
            AuthSession.kind == "browser",
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
    )
    if auth_session is None:
        return None
    idle_limit = timedelta(seconds=settings.refresh_token_idle_ttl_seconds)
    if auth_session.last_used_at + idle_limit <= now:
        return None
    # Write the last-used time at most once per interval, not on every request.
    if now - auth_session.last_used_at >= timedelta(seconds=settings.session_touch_interval_seconds):
        auth_session.last_used_at = now
    return Principal(user_id=auth_session.user_id, session_id=auth_session.id)
