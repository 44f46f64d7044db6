"""Demo data for `make run`: two organizations, one user per role, an API key and a pending
invitation per organization, and the audit entries their making left. Idempotent, dev/test only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.permissions import Permission, Role
from app.core.security.api_keys import api_key_hasher
from app.core.security.opaque import hash_token, new_token
from app.core.security.passwords import PasswordHasher
from app.models import ApiKey, Invitation, Membership, Organization, User
from app.models.base import utcnow
from app.services import api_keys, audit
from app.services.organizations import OrgContext

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
    keys = await _demo_api_keys(session, settings)
    logins = "\n".join(f"    {email:<32} {role.value}" for email, _, _, role in DEMO_USERS)
    password_note = (
        "the DEMO_PASSWORD you set"
        if settings.demo_password.get_secret_value() != "invoicer-demo-password"
        else "invoicer-demo-password"
    )
    report = f"Demo data: {created} new users.\n  Sign in with (password: {password_note}):\n{logins}"
    if keys:
        shown = "\n".join(f"    {slug:<32} {secret}" for slug, secret in keys)
        report += f"\n  API keys (read-only scopes; shown this once, never again):\n{shown}"
    return report


DEMO_KEY_NAME = "Demo key"
DEMO_KEY_SCOPES = [
    Permission.MEMBERS_READ,
    Permission.CUSTOMERS_READ,
    Permission.INVOICES_READ,
    Permission.REPORTS_READ,
]


async def _demo_api_keys(session: AsyncSession, settings: Settings) -> list[tuple[str, str]]:
    """One read-only key per demo organization that has none, made by its owner as the API
    would (so the audit log shows it): (slug, secret) of each key made."""
    made = []
    hasher = api_key_hasher(settings.secret_key.get_secret_value())
    for slug in DEMO_ORGANIZATIONS:
        organization = await _organization(session, slug)
        has_key = await session.scalar(
            select(ApiKey.id).where(ApiKey.org_id == organization.id, ApiKey.name == DEMO_KEY_NAME)
        )
        owner_id = await session.scalar(
            select(Membership.user_id).where(
                Membership.org_id == organization.id, Membership.role == Role.OWNER
            )
        )
        if has_key is not None or owner_id is None:
            continue
        owner = OrgContext.of_member(organization, owner_id, Role.OWNER)
        created = await api_keys.create_api_key(
            session=session,
            context=owner,
            hasher=hasher,
            name=DEMO_KEY_NAME,
            scopes=DEMO_KEY_SCOPES,
            expires_at=None,
            max_per_org=settings.max_api_keys_per_org,
        )
        made.append((slug, created.secret))
        await _pending_invitation(session, owner, settings)
    return made


DEMO_INVITEE = "new.hire@{slug}.example.com"


async def _pending_invitation(session: AsyncSession, owner: OrgContext, settings: Settings) -> None:
    """A pending invitation (its link never mailed: the demo shows it in lists, not in a mailbox)."""
    email = DEMO_INVITEE.format(slug=owner.organization.slug)
    invitation = Invitation(
        org_id=owner.org_id,
        email=email,
        role=Role.ACCOUNTANT,
        token_hash=hash_token(new_token()),
        invited_by=owner.user_id,
        expires_at=utcnow() + timedelta(seconds=settings.invitation_ttl_seconds),
    )
    session.add(invitation)
    await session.flush()
    audit.record(
        session,
        owner,
        action="invitation.created",
        target_type="invitation",
        target_id=invitation.id,
        changes={"email": email, "role": Role.ACCOUNTANT.value},
    )
