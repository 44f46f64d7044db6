"""Roles and the permissions each grants: the one table, in code (rendered into docs/permissions.md)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    ACCOUNTANT = "accountant"
    MEMBER = "member"
    VIEWER = "viewer"


class Permission(StrEnum):
    # Each value's meaning is in PERMISSION_MEANINGS, which docs/permissions.md shows.
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
    INVOICES_SEND = "invoices:send"
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
    Permission.INVOICES_SEND,
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


PERMISSION_MEANINGS: dict[Permission, str] = {
    Permission.ORG_MANAGE: "rename or delete the organization, transfer ownership",
    Permission.MEMBERS_READ: "list the members and their roles",
    Permission.MEMBERS_MANAGE: "invite, change roles, remove members (never an owner)",
    Permission.API_KEYS_MANAGE: "create, list and revoke API keys",
    Permission.WEBHOOKS_MANAGE: "manage webhook endpoints",
    Permission.CUSTOMERS_READ: "read customers",
    Permission.INVOICES_READ: "read invoices",
    Permission.REPORTS_READ: "read reports",
    Permission.CUSTOMERS_WRITE: "create, change and delete customers",
    Permission.INVOICES_WRITE: "edit any draft invoice",
    Permission.INVOICES_WRITE_OWN: "edit the drafts one created",
    Permission.INVOICES_FINALIZE: "finalize invoices",
    Permission.INVOICES_VOID: "void invoices",
    Permission.INVOICES_SEND: "email invoices to their customers, and revoke their public links",
    Permission.PAYMENTS_WRITE: "record payments",
    Permission.EXPORTS_READ: "export invoices",
    Permission.EVENTS_READ: "read the event stream",
    Permission.AUDIT_READ: "read the audit log",
}
