"""Sign-out and session management: the user's devices, and ending them.

Revoking a session also puts its id in the revocation set (when it may still have a live
access token), so its short-lived access tokens stop working at once, and its refresh tokens
are refused from then on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import NotFoundError
from app.core.security.jwt import AccessTokenCodec, InvalidTokenError
from app.core.security.opaque import hash_token
from app.core.security.principal import Principal
from app.core.security.revocation import RevocationStore
from app.models import AuthSession, RefreshToken, User
from app.models.base import utcnow

# --- ending sessions -----------------------------------------------------------------------

# Revocation-set entries are written in batches of this many, so ending a user's sessions
# costs a bounded number of round trips per batch however many sessions there are.
_REVOCATION_BATCH = 500


@dataclass(frozen=True, slots=True)
class _EndedSession:
    id: uuid.UUID
    kind: str
    last_used_at: datetime


async def lock_account(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The account's row, locked for the rest of the transaction.

    Every account-wide change (password reset or change, deactivation, ending every session)
    takes this lock before it touches the account's tokens or sessions, so such changes queue
    in one order instead of deadlocking, and a sign-in in flight (which holds a share lock on
    the row while it writes its session, see `app.services.auth`) commits first and is then
    ended with the rest.
    """
    return await session.scalar(
        select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    )


async def revoke_sessions(
    session: AsyncSession,
    *,
    revocations: RevocationStore,
    settings: Settings,
    session_ids: list[uuid.UUID],
) -> None:
    """End a few sessions named by id (sign-out, a reused refresh token's family)."""
    if not session_ids:
        return
    ended = await _end(
        session, settings=settings, where=(AuthSession.id.in_(session_ids), AuthSession.revoked_at.is_(None))
    )
    await _revoke_access_tokens(revocations, settings, ended)


async def revoke_user_sessions(
    session: AsyncSession,
    *,
    revocations: RevocationStore,
    settings: Settings,
    user_id: uuid.UUID,
    keep: uuid.UUID | None = None,
) -> None:
    """End every live session of a user (password reset/change, deactivation, sign-out everywhere).

    One UPDATE by user, not a list of ids: it ends tens of thousands of sessions as easily as
    one (an `IN (...)` list has a bound-parameter limit). It also takes the sessions' row locks,
    so a refresh or sign-in racing it either finishes first and is ended here, or waits and
    then finds its session revoked (see `app.services.auth`).
    """
    await lock_account(session, user_id)
    where = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)]
    if keep is not None:
        where.append(AuthSession.id != keep)
    ended = await _end(session, settings=settings, where=tuple(where))
    await _revoke_access_tokens(revocations, settings, ended)


async def end_sessions_over_cap(
    session: AsyncSession, *, revocations: RevocationStore, settings: Settings, user_id: uuid.UUID
) -> None:
    """Keep at most `MAX_SESSIONS_PER_USER` live sessions: the least recently used go first.

    Concurrent sign-ins of one account all pick the same oldest sessions. Each ends only the
    ones no other transaction holds (SKIP LOCKED) instead of queueing for them: queueing
    serialized every sign-in of a busy account and held its pooled connections meanwhile
    (bench/login.py). So under concurrency the count may pass the cap by the sign-ins in
    flight, and the next sign-in ends the rest.
    """
    beyond_cap = (
        select(AuthSession.id)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .order_by(AuthSession.last_used_at.desc(), AuthSession.id.desc())
        .offset(settings.max_sessions_per_user)
    )
    unclaimed = select(AuthSession.id).where(AuthSession.id.in_(beyond_cap)).with_for_update(skip_locked=True)
    ended = await _end(
        session, settings=settings, where=(AuthSession.id.in_(unclaimed), AuthSession.revoked_at.is_(None))
    )
    await _revoke_access_tokens(revocations, settings, ended)


async def _end(
    session: AsyncSession, *, settings: Settings, where: tuple[ColumnElement[bool], ...]
) -> list[_EndedSession]:
    rows = await session.execute(
        update(AuthSession)
        .where(*where)
        .values(revoked_at=utcnow())
        .returning(AuthSession.id, AuthSession.kind, AuthSession.last_used_at)
        .execution_options(synchronize_session=False)
    )
    return [_EndedSession(id=row.id, kind=row.kind, last_used_at=row.last_used_at) for row in rows]


async def _revoke_access_tokens(
    revocations: RevocationStore, settings: Settings, ended: list[_EndedSession]
) -> None:
    """Put the ended sessions that may still have a live access token in the revocation set.

    An access token is issued only at sign-in and refresh, and both set the session's
    `last_used_at`; browser sessions have none (their cookie is checked in the database on
    every request). So only token sessions used within one access-token lifetime (plus
    leeway, plus a minute for clock skew between replicas) need an entry: after ending
    30,000 idle sessions, the set grows by the handful that were active.
    """
    lifetime = settings.access_token_ttl_seconds + settings.jwt_leeway_seconds
    cutoff = utcnow() - timedelta(seconds=lifetime + 60)
    ids = [item.id for item in ended if item.kind == "token" and item.last_used_at >= cutoff]
    for start in range(0, len(ids), _REVOCATION_BATCH):
        await revocations.revoke(ids[start : start + _REVOCATION_BATCH], ttl_seconds=lifetime)


# --- sign-out and session management -------------------------------------------------------


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
