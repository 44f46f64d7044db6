"""Customers and invoices made through the API, for the invoicing tests."""

from __future__ import annotations

from typing import Any

import httpx

from app.core.permissions import Role
from tests.support.tenants import Tenant

LINE: dict[str, str] = {
    "description": "Consulting",
    "quantity": "2",
    "unit_price": "100.00",
    "tax_rate": "0.19",
}


async def new_customer(client: httpx.AsyncClient, tenant: Tenant, name: str = "Globex") -> str:
    created = await client.post(
        tenant.path("/customers"), headers=tenant.auth[Role.OWNER], json={"name": name}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def invoice_body(customer_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "currency": "EUR",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "line_items": [LINE],
        **fields,
    }


async def new_invoice(
    client: httpx.AsyncClient, tenant: Tenant, customer_id: str, *, role: Role = Role.OWNER, **fields: Any
) -> httpx.Response:
    created = await client.post(
        tenant.path("/invoices"), headers=tenant.auth[role], json=invoice_body(customer_id, **fields)
    )
    assert created.status_code == 201, created.text
    return created


async def finalized_invoice(
    client: httpx.AsyncClient, tenant: Tenant, customer_id: str, **fields: Any
) -> dict[str, Any]:
    draft = (await new_invoice(client, tenant, customer_id, **fields)).json()
    opened = await client.post(
        tenant.path(f"/invoices/{draft['id']}/finalize"), headers=tenant.auth[Role.ACCOUNTANT]
    )
    assert opened.status_code == 200, opened.text
    body: dict[str, Any] = opened.json()
    return body
