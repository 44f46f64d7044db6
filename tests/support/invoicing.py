"""Customers and invoices made through the API, for the invoicing tests."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from app.core.permissions import Role
from app.models import Invoice, InvoiceLineItem, InvoiceStatus
from app.models.base import new_id
from tests.support.tenants import Tenant

_TRILLION = Decimal(10**12)
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


def invoice_row(
    tenant: Tenant,
    customer_id: str,
    *,
    status: InvoiceStatus = InvoiceStatus.DRAFT,
    currency: str = "EUR",
    issued: date = date(2026, 1, 10),
    due: date | None = None,
    total: str = "100.00",
    number: str | None = None,
    memo: str | None = None,
    lines: int = 1,
    amount_paid: str | None = None,
) -> Invoice:
    """A row as the API would have stored it (one line carrying the whole total)."""
    amount = Decimal(total)
    invoice = Invoice(
        id=new_id(),
        org_id=tenant.org_id,
        customer_id=uuid.UUID(customer_id),
        status=status,
        number=number,
        currency=currency,
        issue_date=issued,
        due_date=due or issued + timedelta(days=30),
        memo=memo,
        metadata_={},
        subtotal=amount,
        tax_total=Decimal("0.00"),
        total=amount,
        amount_paid=(
            Decimal(amount_paid)
            if amount_paid is not None
            else amount
            if status == InvoiceStatus.PAID
            else amount * 0
        ),
        created_by_user_id=tenant.ids[Role.OWNER],
    )
    invoice.line_items = [
        InvoiceLineItem(
            id=new_id(),
            org_id=tenant.org_id,
            position=position,
            description=f"Line {position}",
            # Above the unit price's bound (10^12), a million units of a millionth of it.
            quantity=Decimal(1) if amount <= _TRILLION else Decimal(10**6),
            unit_price=(
                (amount if amount <= _TRILLION else amount.scaleb(-6)) if position == 0 else Decimal(0)
            ),
            tax_rate=Decimal(0),
            line_total=amount if position == 0 else Decimal("0.00"),
            tax_amount=Decimal("0.00"),
        )
        for position in range(lines)
    ]
    return invoice
