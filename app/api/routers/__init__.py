"""Route assembly: authenticated by default, public routes as the explicit exception."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Depends

from app.api.dependencies.auth import get_current_caller
from app.api.routers import (
    admin,
    api_keys,
    attachments,
    audit,
    auth,
    customers,
    events,
    exports,
    invitations,
    invoice_sending,
    invoices,
    members,
    organizations,
    payments,
    reports,
    users,
    webhooks,
)

API_PREFIX = "/api/v1"


@cache  # routes hold no per-app state; analysing their dependencies is most of an app's build
def build_api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX)
    # Public: every route in these routers is reachable without credentials, on purpose.
    api.include_router(auth.token_router)
    api.include_router(auth.public_router)
    api.include_router(invitations.public_answers)
    # Everything else requires a principal, enforced once at this level.
    authenticated = APIRouter(dependencies=[Depends(get_current_caller)])
    authenticated.include_router(auth.router)
    authenticated.include_router(users.router)
    authenticated.include_router(admin.router)
    # Tenant routes: each goes through the tenant seam (app/api/dependencies/tenancy.py).
    authenticated.include_router(organizations.router)
    authenticated.include_router(members.router)
    authenticated.include_router(api_keys.router)
    authenticated.include_router(audit.router)
    authenticated.include_router(customers.router)
    # Before invoices: `/invoices/export` must not be matched as `/invoices/{invoice_id}`.
    authenticated.include_router(exports.router)
    authenticated.include_router(invoices.router)
    authenticated.include_router(invoice_sending.router)
    authenticated.include_router(payments.router)
    authenticated.include_router(attachments.router)
    authenticated.include_router(events.router)
    authenticated.include_router(reports.router)
    authenticated.include_router(webhooks.router)
    authenticated.include_router(invitations.router)
    authenticated.include_router(invitations.answers)
    api.include_router(authenticated)
    return api
