"""Roles and the permissions each grants: the one table, in code (rendered in the README)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    ACCOUNTANT = "accountant"
    MEMBER = "member"
    VIEWER = "viewer"


class Permission(StrEnum):
    ORG_MANAGE = "org:manage"
    MEMBERS_READ = "members:read"
    MEMBERS_MANAGE = "members:manage"
    API_KEYS_MANAGE = "api_keys:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"
    CUSTOMERS_READ = "customers:read"
    INVOICES_READ = "invoices:read"
    REPORTS_READ = "reports:read"
    CUSTOMERS_WRITE = "customers:write"
    INVOICES_WRITE = "invoices:write"
    INVOICES_WRITE_OWN = "invoices:write_own"
    INVOICES_FINALIZE = "invoices:finalize"
    INVOICES_VOID = "invoices:void"
    PAYMENTS_WRITE = "payments:write"
    EXPORTS_READ = "exports:read"
    EVENTS_READ = "events:read"
    AUDIT_READ = "audit:read"


_READ = {
    Permission.MEMBERS_READ,
    Permission.CUSTOMERS_READ,
    Permission.INVOICES_READ,
    Permission.REPORTS_READ,
}
_MEMBER = _READ | {Permission.CUSTOMERS_WRITE, Permission.INVOICES_WRITE_OWN}
_ACCOUNTANT = _MEMBER | {
    Permission.INVOICES_WRITE,
    Permission.INVOICES_FINALIZE,
    Permission.INVOICES_VOID,
    Permission.PAYMENTS_WRITE,
    Permission.EXPORTS_READ,
    Permission.EVENTS_READ,
}
_ADMIN = _ACCOUNTANT | {
    Permission.MEMBERS_MANAGE,
    Permission.API_KEYS_MANAGE,
    Permission.WEBHOOKS_MANAGE,
    Permission.AUDIT_READ,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(_ADMIN | {Permission.ORG_MANAGE}),
    Role.ADMIN: frozenset(_ADMIN),
    Role.ACCOUNTANT: frozenset(_ACCOUNTANT),
    Role.MEMBER: frozenset(_MEMBER),
    Role.VIEWER: frozenset(_READ),
}


def has_permission(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
