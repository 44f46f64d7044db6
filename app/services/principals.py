"""Who is calling: the principal behind a bearer access token or a browser-session cookie."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.core.config import Settings
from app.core.errors import InvalidAccessTokenError
from app.core.security.jwt import AccessTokenCodec, InvalidTokenError
from app.core.security.opaque import hash_token
from app.core.security.principal import Principal
from app.core.security.revocation import RevocationStore
from app.db.session import Database
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
    *, database: Database, settings: Settings, cookie_token: str
) -> Principal | None:
    """The browser session behind a cookie, if it is live (not revoked, past neither limit).

    Read on a connection of its own without a transaction (`Database.autocommit`, one of its
    named uses) and returned to the pool at once: the request's own transaction must not
    start here, or a route that then hashes a password would hold a connection meanwhile.
    The last-used time is written in the same short visit, at most once per interval.
    """
    now = utcnow()
    async with database.autocommit() as connection:
        auth_session = (
            await connection.execute(
                select(AuthSession.id, AuthSession.user_id, AuthSession.last_used_at).where(
                    AuthSession.cookie_hash == hash_token(cookie_token),
                    AuthSession.kind == "browser",
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > now,
                )
            )
        ).first()
        if auth_session is None:
            return None
        if auth_session.last_used_at + timedelta(seconds=settings.refresh_token_idle_ttl_seconds) <= now:
            return None
        if now - auth_session.last_used_at >= timedelta(seconds=settings.session_touch_interval_seconds):
            await connection.execute(
                update(AuthSession)
                .where(AuthSession.id == auth_session.id, AuthSession.revoked_at.is_(None))
                .values(last_used_at=now)
            )
    return Principal(user_id=auth_session.user_id, session_id=auth_session.id)
