"""Tenant scoping: the one access path to tenant-owned rows, failing closed.

Every model with `TenantScoped` (an indexed `org_id`) is reached through a session of the
app's `Database`, whose `TenantSession` applies the session's scope to every ORM statement:

- `bind_organization(session, org_id)`: reads, updates and deletes of tenant models see only
  that organization's rows (a criteria added to every SELECT, UPDATE and DELETE, relationship
  loads included), and inserts are stamped with it; a row carrying another `org_id`, or a
  change of `org_id`, is refused before it reaches the database.
- `bind_user(session, user_id)`: no organization, only the caller's own memberships (the list
  of a user's organizations, `/users/me`). Other tenant models stay closed.
- `bind_credential(session, credential_hash)`: no organization, only the row whose secret
  hashes to it (an API key found by the secret presented, before its organization is known);
  `bind_organization` then narrows the session to that key's organization.
- `system_scope(session, reason)`: no filter at all, for the named uses outside a tenant
  request (the CLI, workers, sign-up creating its first organization's owner); the reasons
  are listed in `SYSTEM_SCOPES` and tests/unit/test_tenant_seam.py keeps them in check.
- Nothing bound: a statement that touches a tenant model raises `TenantNotBoundError`.

On PostgreSQL the same scope is written into the transaction (`set_config(..., true)`, so it
ends with the transaction and a pooled connection never carries it to the next request), where
row-level security policies (migration 0004) enforce it again for any SQL, ORM or not.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from sqlalchemy import ForeignKey, Table, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import ClauseElement, visitors


class TenantNotBoundError(RuntimeError):
    """A tenant model was reached with no organization bound: a bug, never a client's error."""


class CrossTenantWriteError(RuntimeError):
    """A row of another organization than the bound one was about to be written."""


# The named reasons code may step outside tenant scoping for; anything else is refused.
SYSTEM_SCOPES = frozenset(
    {
        "cli",  # operator commands: seed-demo, grant-platform-admin
        "signup",  # a new account's first organization and its owner membership
        "worker",  # background jobs, each of which binds the organization it works for
        "migration",  # data migrations
    }
)


class TenantScoped:
    """The mixin of every tenant-owned model: `org_id`, indexed, cascading with its organization.

    Unique constraints of a tenant model that need it include `org_id` (a name unique per
    organization, not across all of them).
    """

    # A column naming a user who may read the row with only `bind_user` (their own memberships).
    visible_to_member_column: ClassVar[str | None] = None
    # A column holding a credential's hash: the row is readable with only `bind_credential`.
    visible_by_credential_column: ClassVar[str | None] = None

    @declared_attr
    def org_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805 - SQLAlchemy's declared_attr convention
        return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)


@dataclass(frozen=True, slots=True)
class TenantScope:
    org_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    credential_hash: str | None = None
    system: str | None = None


_SCOPE_KEY = "tenant_scope"


def scope_of(session: Session | AsyncSession) -> TenantScope | None:
    info = session.info
    scope: TenantScope | None = info.get(_SCOPE_KEY)
    return scope


async def bind_organization(
    session: AsyncSession, org_id: uuid.UUID, *, user_id: uuid.UUID | None = None
) -> None:
    """Scope the session to one organization for the rest of its life."""
    await _bind(session, TenantScope(org_id=org_id, user_id=user_id))


async def bind_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Scope the session to one user's own memberships, across organizations."""
    await _bind(session, TenantScope(user_id=user_id))


async def bind_credential(session: AsyncSession, credential_hash: str) -> None:
    """Scope the session to the one row a presented secret identifies (an API key)."""
    await _bind(session, TenantScope(credential_hash=credential_hash))


async def system_scope(session: AsyncSession, reason: str) -> None:
    """Lift tenant scoping for a session used outside a tenant request (see SYSTEM_SCOPES)."""
    if reason not in SYSTEM_SCOPES:
        raise ValueError(f"{reason!r} is not a named system scope (app/db/session/tenancy.py)")
    await _bind(session, TenantScope(system=reason))


async def _bind(session: AsyncSession, scope: TenantScope) -> None:
    current = scope_of(session)
    if current is not None and current != scope and current.system is None and not _narrows(current, scope):
        # A request bound to one organization never switches to another: that would be a leak.
        raise CrossTenantWriteError("this session is already bound to another scope")
    session.info[_SCOPE_KEY] = scope
    if session.in_transaction():
        # The transaction began under the old scope: the database must hear of the new one now.
        connection = await session.connection()
        await connection.run_sync(_write_scope_to_transaction, scope)


def _narrows(current: TenantScope, new: TenantScope) -> bool:
    """From a user's own scope, or a credential's, to one organization (the caller's own: the
    services check membership, or the key's organization, right after binding)."""
    return current.org_id is None and new.org_id is not None and current.user_id == new.user_id


# `true`: local to the transaction, so it ends with it and a pooled connection never carries it on.
_SET_SCOPE = text(
    "SELECT set_config('app.org_id', :org_id, true), set_config('app.user_id', :user_id, true),"
    " set_config('app.credential_hash', :credential, true),"
    " set_config('app.system_scope', :system, true)"
)


def _write_scope_to_transaction(connection: Connection, scope: TenantScope) -> None:
    if connection.dialect.name != "postgresql":
        return  # SQLite has no row-level security: the ORM criteria are the only guard
    connection.execute(
        _SET_SCOPE,
        {
            "org_id": str(scope.org_id) if scope.org_id else "",
            "user_id": str(scope.user_id) if scope.user_id else "",
            "credential": scope.credential_hash or "",
            "system": scope.system or "",
        },
    )


def _tenant_models(state: ORMExecuteState) -> set[type[Any]]:
    """The tenant models a statement reaches: its entities, and any table it joins or embeds."""
    models = {mapper.class_ for mapper in state.all_mappers if issubclass(mapper.class_, TenantScoped)}
    by_table = _tenant_models_by_table()
    for element in visitors.iterate(cast(ClauseElement, state.statement)):
        if isinstance(element, Table) and element.name in by_table:
            models.add(by_table[element.name])
    return models


@functools.cache  # first called on the first statement, once every model is imported
def _tenant_models_by_table() -> dict[str, type[Any]]:
    found: dict[str, type[Any]] = {}
    pending: list[type[Any]] = [TenantScoped]
    while pending:
        cls = pending.pop()
        table = getattr(cls, "__table__", None)
        if table is not None:
            found[table.name] = cls
        pending.extend(cls.__subclasses__())
    return found


class TenantSession(Session):
    """The sync session class behind every `AsyncSession` of the app's `Database`."""


@event.listens_for(TenantSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria of the statement that started the load are carried along
    scope = scope_of(state.session)
    if scope is not None and scope.org_id is not None:
        # The common case, every tenant request: the criteria only ever narrows tenant models,
        # so it is added without first walking the statement for them (a walk per statement
        # cost more than the rest of the seam together).
        state.statement = state.statement.options(_organization_criteria(scope.org_id))
        return
    if scope is not None and scope.system is not None:
        return  # a named system scope: no filter, so no need to walk the statement either
    tenant_models = _tenant_models(state)
    if not tenant_models:
        return
    if scope is None:
        names = ", ".join(sorted(model.__name__ for model in tenant_models))
        raise TenantNotBoundError(f"{names} reached with no organization bound")
    for model in tenant_models:
        if scope.user_id is not None and model.visible_to_member_column is not None:
            criteria = getattr(model, model.visible_to_member_column) == scope.user_id
        elif scope.credential_hash is not None and model.visible_by_credential_column is not None:
            criteria = getattr(model, model.visible_by_credential_column) == scope.credential_hash
        else:
            raise TenantNotBoundError(f"{model.__name__} reached with no organization bound")
        state.statement = state.statement.options(with_loader_criteria(model, criteria, include_aliases=True))


def _organization_criteria(org_id: uuid.UUID) -> Any:
    # A lambda criteria: SQLAlchemy caches its compiled form once and binds `org_id` per use.
    return with_loader_criteria(TenantScoped, lambda cls: cls.org_id == org_id, include_aliases=True)


@event.listens_for(TenantSession, "before_flush")
def _stamp_and_check_writes(session: Session, _context: Any, _instances: Any) -> None:
    scope: TenantScope | None = session.info.get(_SCOPE_KEY)
    for instance in session.new:
        if isinstance(instance, TenantScoped):
            _check_write(scope, instance, stamp=True)
    for instance in session.dirty:
        if isinstance(instance, TenantScoped) and session.is_modified(instance):
            history = _org_id_history(instance)
            if history:
                raise CrossTenantWriteError("a row never moves to another organization")
            _check_write(scope, instance, stamp=False)
    for instance in session.deleted:
        if isinstance(instance, TenantScoped):
            _check_write(scope, instance, stamp=False)


def _org_id_history(instance: Any) -> bool:
    return bool(inspect(instance).attrs.org_id.history.deleted)


def _check_write(scope: TenantScope | None, instance: Any, *, stamp: bool) -> None:
    if scope is None:
        raise TenantNotBoundError(f"{type(instance).__name__} written with no organization bound")
    if scope.system is not None:
        return
    if scope.org_id is None:
        raise TenantNotBoundError(f"{type(instance).__name__} written with no organization bound")
    if stamp and instance.org_id is None:
        instance.org_id = scope.org_id
    elif instance.org_id != scope.org_id:
        raise CrossTenantWriteError(f"{type(instance).__name__} of another organization")


@event.listens_for(TenantSession, "after_begin")
def _scope_transaction(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    scope: TenantScope | None = session.info.get(_SCOPE_KEY)
    if scope is not None:
        _write_scope_to_transaction(connection, scope)
