"""Payments: never more than is due, the last one marks the invoice paid, twenty at once never
overpay, and bad input changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import httpx
import pytest

from app.core.permissions import Role
from tests.support.invoicing import finalized_invoice, new_customer, new_invoice
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

# 2 x 100.00 + 19 % = 238.00
TOTAL = "238.00"


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


@pytest.fixture
async def invoice(client: httpx.AsyncClient, acme: Tenant) -> dict[str, Any]:
    return await finalized_invoice(client, acme, await new_customer(client, acme))


async def pay(
    client: httpx.AsyncClient, acme: Tenant, invoice_id: str, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {**acme.auth[Role.ACCOUNTANT], "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post(acme.path(f"/invoices/{invoice_id}/payments"), headers=headers, json=body)


async def read(client: httpx.AsyncClient, acme: Tenant, invoice_id: str) -> dict[str, Any]:
    response = await client.get(acme.path(f"/invoices/{invoice_id}"), headers=acme.auth[Role.VIEWER])
    body: dict[str, Any] = response.json()
    return body


async def test_payments_until_paid(client: httpx.AsyncClient, acme: Tenant, invoice: dict[str, Any]) -> None:
    assert invoice["total"] == TOTAL
    first = await pay(client, acme, invoice["id"], {"amount": "38", "method": "cash", "reference": "Till 3"})
    assert first.status_code == 201, first.text
    assert (first.json()["amount"], first.json()["invoice_id"]) == ("38", invoice["id"])
    halfway = await read(client, acme, invoice["id"])
    assert (halfway["status"], halfway["amount_paid"], halfway["amount_due"]) == ("open", "38.00", "200.00")
    rest = await pay(
        client,
        acme,
        invoice["id"],
        {"amount": "200.00", "method": "bank_transfer", "paid_at": "2026-11-28T23:30:00+01:00"},
    )
    assert rest.status_code == 201, rest.text
    assert rest.json()["paid_at"] == "2026-11-28T22:30:00.000000Z"
    paid = await read(client, acme, invoice["id"])
    assert (paid["status"], paid["amount_due"]) == ("paid", "0.00")
    assert paid["paid_at"] is not None
    more = await pay(client, acme, invoice["id"], {"amount": "0.01", "method": "cash"})
    assert (more.status_code, more.json()["code"], more.json()["invoice_status"]) == (
        409,
        "invoice_not_open",
        "paid",
    )
    listed = await client.get(
        acme.path(f"/invoices/{invoice['id']}/payments?limit=1"), headers=acme.auth[Role.VIEWER]
    )
    assert [item["amount"] for item in listed.json()["items"]] == ["38"]
    following = listed.headers["link"][1 : listed.headers["link"].index(">")]
    last = await client.get(following, headers=acme.auth[Role.VIEWER])
    assert ([item["amount"] for item in last.json()["items"]], last.json()["next_cursor"]) == (
        ["200.00"],
        None,
    )
    events = await client.get(acme.path("/events"), headers=acme.auth[Role.OWNER], params={"limit": 5})
    kinds = [event["type"] for event in events.json()["items"]]
    assert kinds[:3] == ["invoice.paid", "payment.created", "payment.created"]
    assert events.json()["items"][0]["data"] == paid


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({"amount": "238.01", "method": "cash"}, "exceeds_amount_due"),
        ({"amount": "0", "method": "cash"}, "greater_than"),
        ({"amount": "-5", "method": "cash"}, "greater_than"),
        ({"amount": "10.005", "method": "cash"}, "amount_precision"),
        ({"amount": 10, "method": "cash"}, "decimal_string"),
        ({"amount": "1e3", "method": "cash"}, "decimal_format"),
        ({"amount": "10", "method": "cheque"}, "enum"),
        ({"amount": "10"}, "missing"),
        ({"amount": "10", "method": "cash", "paid_at": "2026-11-28T10:00:00"}, "timezone_aware"),
        ({"amount": "10", "method": "cash", "paid_at": "2999-01-01T00:00:00Z"}, "paid_at_in_future"),
        ({"amount": "10", "method": "cash", "reference": "x" * 201}, "string_too_long"),
        ({"amount": "10", "method": "cash", "reference": "a\u0000b"}, "single_line"),
        ({"amount": "10", "method": "cash", "invoice_id": "x"}, "extra_forbidden"),
    ],
)
async def test_bad_payments_change_nothing(
    client: httpx.AsyncClient, acme: Tenant, invoice: dict[str, Any], body: dict[str, Any], error_type: str
) -> None:
    response = await pay(client, acme, invoice["id"], body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["type"] for error in response.json()["errors"]] == [error_type]
    assert (await read(client, acme, invoice["id"])) == invoice
    listed = await client.get(
        acme.path(f"/invoices/{invoice['id']}/payments"), headers=acme.auth[Role.VIEWER]
    )
    assert listed.json()["items"] == []


async def test_drafts_and_void_invoices_take_no_payment(client: httpx.AsyncClient, acme: Tenant) -> None:
    customer = await new_customer(client, acme)
    draft = (await new_invoice(client, acme, customer)).json()
    response = await pay(client, acme, draft["id"], {"amount": "1", "method": "cash"})
    assert (response.status_code, response.json()["code"]) == (409, "invoice_not_open")
    opened = await finalized_invoice(client, acme, customer)
    await client.post(acme.path(f"/invoices/{opened['id']}/void"), headers=acme.auth[Role.OWNER])
    voided = await pay(client, acme, opened["id"], {"amount": "1", "method": "cash"})
    assert (voided.status_code, voided.json()["invoice_status"]) == (409, "void")


async def test_a_retried_payment_is_recorded_once(
    client: httpx.AsyncClient, acme: Tenant, invoice: dict[str, Any]
) -> None:
    key = str(uuid.uuid4())
    first = await pay(client, acme, invoice["id"], {"amount": "100.00", "method": "card"}, key=key)
    retry = await pay(client, acme, invoice["id"], {"amount": "100.00", "method": "card"}, key=key)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert (await read(client, acme, invoice["id"]))["amount_paid"] == "100.00"
    other = await pay(client, acme, invoice["id"], {"amount": "50.00", "method": "card"}, key=key)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_a_payment_without_a_key_is_refused(
    client: httpx.AsyncClient, acme: Tenant, invoice: dict[str, Any]
) -> None:
    response = await client.post(
        acme.path(f"/invoices/{invoice['id']}/payments"),
        headers=acme.auth[Role.ACCOUNTANT],
        json={"amount": "1", "method": "cash"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")
    assert (await read(client, acme, invoice["id"]))["amount_paid"] == "0.00"


async def test_members_cannot_record_payments(
    client: httpx.AsyncClient, acme: Tenant, invoice: dict[str, Any]
) -> None:
    response = await client.post(
        acme.path(f"/invoices/{invoice['id']}/payments"),
        headers={**acme.auth[Role.MEMBER], "Idempotency-Key": "member-try"},
        json={"amount": "1", "method": "cash"},
    )
    assert response.status_code == 403


async def test_another_organizations_invoice_is_not_found(
    client: httpx.AsyncClient, acme: Tenant, invoice: dict[str, Any]
) -> None:
    globex = await make_tenant(client, "Globex")
    response = await client.post(
        globex.path(f"/invoices/{invoice['id']}/payments"),
        headers={**globex.auth[Role.OWNER], "Idempotency-Key": "globex-try"},
        json={"amount": "1", "method": "cash"},
    )
    assert response.status_code == 404
    assert (await read(client, acme, invoice["id"]))["amount_paid"] == "0.00"


async def test_twenty_concurrent_payments_never_overpay(
    client: httpx.AsyncClient, acme: Tenant, invoice: dict[str, Any], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent transactions are PostgreSQL's; SQLite serialises writers whole")
    statuses: list[int] = []

    async def attempt() -> None:
        # 20 x 20.00 = 400.00 offered against 238.00 due: at most 11 fit.
        statuses.append(
            (await pay(client, acme, invoice["id"], {"amount": "20.00", "method": "card"})).status_code
        )

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(attempt)
    assert statuses.count(201) == 11
    assert sorted(set(statuses)) == [201, 422]
    after = await read(client, acme, invoice["id"])
    assert (after["amount_paid"], after["amount_due"], after["status"]) == ("220.00", "18.00", "open")
    listed = await client.get(
        acme.path(f"/invoices/{invoice['id']}/payments"),
        headers=acme.auth[Role.VIEWER],
        params={"limit": 200},
    )
    assert len(listed.json()["items"]) == 11
