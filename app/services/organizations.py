"""Organizations (the tenants): who may open one, and creating, renaming and deleting them.

`open_organization` is the tenant seam's entry: it binds the request's session to the
organization (app/db/session/tenancy.py) and reads the caller's membership in the same
statement. Every tenant route goes through it (app/api/dependencies/tenancy.py), so a
membership removed or a role lowered takes effect on the member's very next request.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInputError, NotFoundError, OrganizationLimitError
from app.core.permissions import ROLE_PERMISSIONS, Permission, Role
from app.core.security.principal import ApiKeyPrincipal, Caller, Principal
from app.db.session.tenancy import bind_organization, bind_user
from app.models import Membership, Organization
from app.models.base import new_id, utcnow
from app.services import audit, features
from app.services.accounts import slugify
from app.services.sessions import lock_account

NO_SUCH_ORGANIZATION = "No such organization."
# The session id of a member acting outside any sign-in session (no token names it).
NO_SESSION = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True)
class OrgContext:
    """Who is acting in which organization, with what rights: resolved once per tenant request.

    The caller is a member (with a role) or an API key of the organization (no role: its
    scopes are its permissions).
    """

    organization: Organization
    principal: Caller
    role: Role | None
    permissions: frozenset[Permission]
    # Where the request came from, for the audit log (none outside a request: CLI, workers).
    client_ip: str | None = None
    # The organization's feature-flag overrides, read in the same statement (services/features.py).
    feature_overrides: Mapping[str, bool] = field(default_factory=dict)

    @property
    def org_id(self) -> uuid.UUID:
        return self.organization.id

    @property
    def user_id(self) -> uuid.UUID | None:
        """The member acting; None for an API key."""
        return self.principal.user_id if isinstance(self.principal, Principal) else None

    def allows(self, permission: Permission) -> bool:
        # `invoices:write` (any invoice) includes `invoices:write_own`, also for an API key
        # given only the broader scope.
        return permission in self.permissions or (
            permission is Permission.INVOICES_WRITE_OWN and Permission.INVOICES_WRITE in self.permissions
        )

    @classmethod
    def of_member(cls, organization: Organization, user_id: uuid.UUID, role: Role) -> OrgContext:
        """A member acting with no signed-in session behind it (the seed, joining by invitation)."""
        principal = Principal(user_id=user_id, session_id=NO_SESSION)
        return cls(
            organization=organization, principal=principal, role=role, permissions=ROLE_PERMISSIONS[role]
        )


@dataclass(frozen=True, slots=True)
class OrganizationPage:
    items: list[tuple[Organization, Role]]
    total: int


# Built once: constructing them (the flags' subquery above all) cost more than executing them
# from SQLAlchemy's compiled cache. Parameters: org_id, and user_id for a member.
_MEMBER_ORGANIZATION = (
    select(Organization, Membership.role, features.overrides_column())
    .join(Membership, Membership.org_id == Organization.id)
    .where(
        Organization.id == bindparam("org_id"),
        Organization.deleted_at.is_(None),
        Membership.user_id == bindparam("user_id"),
    )
)
_KEY_ORGANIZATION = select(Organization, features.overrides_column()).where(
    Organization.id == bindparam("org_id"), Organization.deleted_at.is_(None)
)


async def open_organization(
    *, session: AsyncSession, org_id: uuid.UUID, principal: Caller, client_ip: str | None = None
) -> OrgContext:
    """The caller's access to `org_id`; 404 when they have none (or it was deleted)."""
    if isinstance(principal, ApiKeyPrincipal):
        return replace(await _open_for_api_key(session, org_id, principal), client_ip=client_ip)
    await bind_organization(session, org_id, user_id=principal.user_id)
    row = (
        await session.execute(_MEMBER_ORGANIZATION, {"org_id": org_id, "user_id": principal.user_id})
    ).first()
    if row is None:
        raise NotFoundError(NO_SUCH_ORGANIZATION)
    role: Role = row[1]
    return OrgContext(
        organization=row[0],
        principal=principal,
        role=role,
        permissions=ROLE_PERMISSIONS[role],
        client_ip=client_ip,
        feature_overrides=features.parse_overrides(row[2]),
    )


async def _open_for_api_key(session: AsyncSession, org_id: uuid.UUID, key: ApiKeyPrincipal) -> OrgContext:
    if key.org_id != org_id:
        raise NotFoundError(NO_SUCH_ORGANIZATION)
    await bind_organization(session, org_id)  # from the key's credential to its organization
    row = (await session.execute(_KEY_ORGANIZATION, {"org_id": org_id})).first()
    if row is None:
        raise NotFoundError(NO_SUCH_ORGANIZATION)
    known = {permission.value for permission in Permission}
    scopes = frozenset(Permission(scope) for scope in key.scopes if scope in known)
    return OrgContext(
        organization=row[0],
        principal=key,
        role=None,
        permissions=scopes,
        feature_overrides=features.parse_overrides(row[1]),
    )


async def lock_organization(session: AsyncSession, context: OrgContext) -> None:
    """Serialise changes to one organization's members and keys for the rest of the transaction."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write that changes nothing takes the database's write lock,
        # so the next writer waits for this transaction, and what it then reads is current.
        await session.execute(
            update(Organization)
            .where(Organization.id == context.org_id)
            .values(updated_at=Organization.updated_at)
            .execution_options(synchronize_session=False)
        )
        return
    await session.execute(select(Organization.id).where(Organization.id == context.org_id).with_for_update())


async def list_organizations(
    *, session: AsyncSession, user_id: uuid.UUID, limit: int, offset: int
) -> OrganizationPage:
    """The organizations the user belongs to, by name, with their role in each."""
    await bind_user(session, user_id)
    mine = (
        select(Organization, Membership.role)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user_id, Organization.deleted_at.is_(None))
    )
    total = await session.scalar(select(func.count()).select_from(mine.subquery()))
    rows = await session.execute(
        mine.order_by(Organization.name, Organization.id).limit(limit).offset(offset)
    )
    return OrganizationPage(items=[(row[0], row[1]) for row in rows], total=total or 0)


async def create_organization(
    *, session: AsyncSession, principal: Principal, name: str, max_per_user: int, client_ip: str | None = None
) -> OrgContext:
    """A new organization, owned by its creator."""
    # The account's lock serialises its creations, so the cap holds under concurrency.
    await lock_account(session, principal.user_id)
    await bind_user(session, principal.user_id)
    belongs_to = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == principal.user_id, Organization.deleted_at.is_(None))
    )
    if (belongs_to or 0) >= max_per_user:
        raise OrganizationLimitError(f"An account may belong to at most {max_per_user} organizations.")
    organization = Organization(id=new_id(), name=name, slug=await _free_slug(session, name))
    await bind_organization(session, organization.id, user_id=principal.user_id)
    session.add(organization)
    await session.flush()
    session.add(Membership(user_id=principal.user_id, role=Role.OWNER))
    context = OrgContext(
        organization=organization,
        principal=principal,
        role=Role.OWNER,
        permissions=ROLE_PERMISSIONS[Role.OWNER],
        client_ip=client_ip,
    )
    audit.record(
        session,
        context,
        action="organization.created",
        target_type="organization",
        target_id=organization.id,
        changes={"name": name},
    )
    await session.flush()
    return context


async def _free_slug(session: AsyncSession, name: str) -> str:
    slug = slugify(name)
    if await session.scalar(select(Organization.id).where(Organization.slug == slug)) is None:
        return slug
    return f"{slug[:53]}-{secrets.token_hex(3)}"


async def rename_organization(*, session: AsyncSession, context: OrgContext, name: str) -> Organization:
    organization = context.organization
    if name != organization.name:
        audit.record(
            session,
            context,
            action="organization.renamed",
            target_type="organization",
            target_id=organization.id,
            changes={"name": [organization.name, name]},
        )
        organization.name = name
    await session.flush()
    return organization


async def delete_organization(*, session: AsyncSession, context: OrgContext, confirm: str) -> None:
    """Soft delete: gone from every answer at once; rows stay until an operator purges them."""
    organization = context.organization
    if confirm != organization.slug:
        raise InvalidInputError(
            ["query", "confirm"], "must be the organization's slug", "confirmation_mismatch"
        )
    organization.deleted_at = utcnow()
    audit.record(
        session, context, action="organization.deleted", target_type="organization", target_id=organization.id
    )
    await session.flush()
