"""Demo data for `make run`: two organizations and one user per role. Idempotent, dev/test only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.permissions import Role
from app.core.security.passwords import PasswordHasher
from app.models import Membership, Organization, User
from app.models.base import utcnow

DEMO_ORGANIZATIONS = {"acme": "Acme", "globex": "Globex"}
DEMO_USERS: list[tuple[str, str, str, Role]] = [
    ("owner@acme.example.com", "Olivia Owner", "acme", Role.OWNER),
    ("admin@acme.example.com", "Adam Admin", "acme", Role.ADMIN),
    ("accountant@acme.example.com", "Ada Accountant", "acme", Role.ACCOUNTANT),
    ("member@acme.example.com", "Max Member", "acme", Role.MEMBER),
    ("viewer@acme.example.com", "Vera Viewer", "acme", Role.VIEWER),
    ("owner@globex.example.com", "Gus Globex", "globex", Role.OWNER),
]


async def _organization(session: AsyncSession, slug: str) -> Organization:
    organization = await session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        organization = Organization(name=DEMO_ORGANIZATIONS[slug], slug=slug)
        session.add(organization)
        await session.flush()
    return organization


async def seed_demo_data(*, session: AsyncSession, hasher: PasswordHasher, settings: Settings) -> str:
    """Create what is missing; the caller owns the transaction (the CLI's unit of work)."""
    password_hash = await hasher.hash(settings.demo_password.get_secret_value())  # before any query
    created = 0
    for email, full_name, org_slug, role in DEMO_USERS:
        organization = await _organization(session, org_slug)
        if await session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        user = User(email=email, full_name=full_name, password_hash=password_hash, email_verified_at=utcnow())
        session.add(user)
        await session.flush()
        session.add(Membership(user_id=user.id, org_id=organization.id, role=role))
        created += 1
    logins = "\n".join(f"    {email:<32} {role.value}" for email, _, _, role in DEMO_USERS)
    password_note = (
        "the DEMO_PASSWORD you set"
        if settings.demo_password.get_secret_value() != "invoicer-demo-password"
        else "invoicer-demo-password"
    )
    return f"Demo data: {created} new users.\n  Sign in with (password: {password_note}):\n{logins}"
