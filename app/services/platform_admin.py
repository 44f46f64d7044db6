"""Platform administration: the operators who run Invoicer, above any one organization.

Deactivating a user is global (every organization they belong to): sign-in is refused with
the same answer as a wrong password, every session ends at once (access tokens included, and
sign-ins still in flight), and outstanding password-reset links die.
Tenants remove members from their own organization instead (membership management).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.email_address import normalize_email
from app.core.errors import ConflictError, NotFoundError, PermissionDeniedError
from app.core.security.revocation import RevocationStore
from app.models import User
from app.services.accounts import invalidate_password_reset_links
from app.services.sessions import lock_account, revoke_user_sessions


async def ensure_platform_admin(*, session: AsyncSession, user_id: uuid.UUID) -> None:
    is_admin = await session.scalar(select(User.is_platform_admin).where(User.id == user_id))
    if not is_admin:
        raise PermissionDeniedError("Only platform administrators may do this.")


async def _user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User:
    user = await lock_account(session, user_id) if lock else await session.get(User, user_id)
    if user is None:
        raise NotFoundError("No such user.")
    return user


async def deactivate_user(
    *,
    session: AsyncSession,
    revocations: RevocationStore,
    settings: Settings,
    actor_id: uuid.UUID,
    user_id: uuid.UUID,
) -> None:
    """Refuse the user's sign-ins and end every session they have. Repeating it changes nothing."""
    if user_id == actor_id:
        # An operator locking themselves out would need another operator to undo it.
        raise ConflictError("You cannot deactivate your own account.")
    user = await _user(session, user_id, lock=True)
    user.is_active = False
    await invalidate_password_reset_links(session, user_id=user.id)
    await revoke_user_sessions(session, revocations=revocations, settings=settings, user_id=user.id)


async def reactivate_user(*, session: AsyncSession, user_id: uuid.UUID) -> None:
    """Allow sign-in again. Sessions ended by the deactivation stay ended."""
    user = await _user(session, user_id)
    user.is_active = True


async def set_platform_admin(*, session: AsyncSession, email: str, granted: bool) -> bool:
    """Grant or withdraw the platform-admin flag (the CLI's bootstrap). False: no such account."""
    result = await session.execute(
        update(User).where(User.email == normalize_email(email)).values(is_platform_admin=granted)
    )
    return bool(getattr(result, "rowcount", 0))
