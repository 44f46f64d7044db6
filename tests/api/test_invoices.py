"""Invoices: drafts with exact totals, partial updates, the state machine, numbering, ETags."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from app.core.permissions import Role
from tests.support.invoicing import LINE, finalized_invoice, invoice_body, new_customer, new_invoice
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


@pytest.fixture
async def customer(client: httpx.AsyncClient, acme: Tenant) -> str:
    return await new_customer(client, acme)


async def test_a_draft_has_exact_totals_rounded_per_line(
    client: httpx.AsyncClient, acme: Tenant, customer: str
) -> None:
    lines = [
        {"description": "Hours", "quantity": "1.5", "unit_price": "33.3333", "tax_rate": "0.19"},
        {"description": "Licence", "quantity": "3", "unit_price": "0.0125", "tax_rate": "0"},
    ]
    created = await new_invoice(client, acme, customer, line_items=lines, memo="Thanks")
    body = created.json()
    # 1.5 * 33.3333 = 49.99995 → 50.00; tax 9.50. 3 * 0.0125 = 0.0375 → 0.04.
    assert [(line["line_total"], line["tax_amount"]) for line in body["line_items"]] == [
        ("50.00", "9.50"),
        ("0.04", "0.00"),
    ]
    assert (body["subtotal"], body["tax_total"], body["total"]) == ("50.04", "9.50", "59.54")
    assert (body["amount_paid"], body["amount_due"]) == ("0.00", "59.54")
    assert body["line_items"][1]["unit_price"] == "0.0125"  # inputs come back as sent
    assert (body["status"], body["number"], body["overdue"]) == ("draft", None, False)
    assert body["created_by"] == {"type": "user", "id": str(acme.ids[Role.OWNER])}
    assert created.headers["etag"] == '"1"'
    read = await client.get(created.headers["location"], headers=acme.auth[Role.VIEWER])
    assert read.json() == body


@pytest.mark.parametrize(
    ("currency", "unit_price", "total"),
    [("JPY", "1000.5", "2001"), ("KWD", "1.2345", "2.469"), ("USD", "0.005", "0.01")],
)
async def test_minor_units_follow_the_currency(
    client: httpx.AsyncClient, acme: Tenant, customer: str, currency: str, unit_price: str, total: str
) -> None:
    line = {"description": "Item", "quantity": "2", "unit_price": unit_price, "tax_rate": "0"}
    if currency == "USD":
        line["quantity"] = "1"
    body = (await new_invoice(client, acme, customer, currency=currency, line_items=[line])).json()
    assert body["total"] == total


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"line_items": []}, ["body", "line_items"]),
        ({"line_items": [LINE] * 101}, ["body", "line_items"]),
        ({"line_items": [{**LINE, "quantity": "0"}]}, ["body", "line_items", 0, "quantity"]),
        ({"line_items": [{**LINE, "quantity": "1000000.0001"}]}, ["body", "line_items", 0, "quantity"]),
        ({"line_items": [{**LINE, "quantity": "1.00001"}]}, ["body", "line_items", 0, "quantity"]),
        ({"line_items": [{**LINE, "quantity": 0.1}]}, ["body", "line_items", 0, "quantity"]),
        ({"line_items": [{**LINE, "unit_price": "1e999999"}]}, ["body", "line_items", 0, "unit_price"]),
        ({"line_items": [{**LINE, "unit_price": "-1"}]}, ["body", "line_items", 0, "unit_price"]),
        (
            {"line_items": [{**LINE, "unit_price": "1000000000000.01"}]},
            ["body", "line_items", 0, "unit_price"],
        ),
        ({"line_items": [{**LINE, "tax_rate": "1.5"}]}, ["body", "line_items", 0, "tax_rate"]),
        ({"line_items": [{**LINE, "tax_rate": "NaN"}]}, ["body", "line_items", 0, "tax_rate"]),
        ({"line_items": [{**LINE, "description": ""}]}, ["body", "line_items", 0, "description"]),
        ({"line_items": [{**LINE, "description": "x" * 501}]}, ["body", "line_items", 0, "description"]),
        ({"line_items": [{**LINE, "description": "a\u202eb"}]}, ["body", "line_items", 0, "description"]),
        ({"line_items": [{**LINE, "discount": "1"}]}, ["body", "line_items", 0, "discount"]),
        ({"currency": "XTS"}, ["body", "currency"]),
        ({"currency": "eur"}, ["body", "currency"]),
        ({"currency": "DEM"}, ["body", "currency"]),
        ({"due_date": "2026-10-31"}, ["body"]),
        ({"issue_date": 1764547200}, ["body", "issue_date"]),
        ({"issue_date": "0001-01-01"}, ["body", "issue_date"]),
        ({"status": "paid"}, ["body", "status"]),
        ({"total": "0"}, ["body", "total"]),
        ({"metadata": {f"k{index}": "v" for index in range(21)}}, ["body", "metadata"]),
    ],
)
async def test_bad_drafts_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, acme: Tenant, customer: str, change: dict[str, Any], loc: list[Any]
) -> None:
    response = await client.post(
        acme.path("/invoices"), headers=acme.auth[Role.OWNER], json=invoice_body(customer, **change)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert any(error["loc"][: len(loc)] == loc for error in response.json()["errors"]), response.json()
    listed = await client.get(acme.path("/invoices"), headers=acme.auth[Role.OWNER])
    assert listed.json()["items"] == []


async def test_a_customer_of_another_organization_is_unknown(client: httpx.AsyncClient, acme: Tenant) -> None:
    globex = await make_tenant(client, "Globex")
    theirs = await new_customer(client, globex)
    response = await client.post(
        acme.path("/invoices"), headers=acme.auth[Role.OWNER], json=invoice_body(theirs)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "unknown_customer"


async def test_patch_applies_what_is_sent_null_clears_and_lines_are_replaced(
    client: httpx.AsyncClient, acme: Tenant, customer: str
) -> None:
    created = await new_invoice(client, acme, customer, memo="Old memo", metadata={"po": "7"})
    url = created.headers["location"]
    headers = {**acme.auth[Role.OWNER], "If-Match": created.headers["etag"]}
    lines = [{"description": "New", "quantity": "1", "unit_price": "10.00"}]
    changed = await client.patch(url, headers=headers, json={"memo": None, "line_items": lines})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["memo"], body["metadata"], body["total"]) == (None, {"po": "7"}, "10.00")
    assert [line["description"] for line in body["line_items"]] == ["New"]
    assert changed.headers["etag"] == '"2"'
    currency = await client.patch(
        url, headers={**acme.auth[Role.OWNER], "If-Match": '"2"'}, json={"currency": "JPY"}
    )
    assert (currency.json()["currency"], currency.json()["total"]) == ("JPY", "10")


@pytest.mark.parametrize(
    "change",
    [
        {"status": "open"},
        {"number": "INV-2026-000001"},
        {"total": "1.00"},
        {"customer_id": None},
        {"line_items": None},
        {"currency": None},
        {"due_date": "2026-10-01"},
        {"line_items": []},
    ],
)
async def test_patch_refuses_protected_null_and_inconsistent_fields(
    client: httpx.AsyncClient, acme: Tenant, customer: str, change: dict[str, Any]
) -> None:
    created = await new_invoice(client, acme, customer)
    headers = {**acme.auth[Role.OWNER], "If-Match": created.headers["etag"]}
    response = await client.patch(created.headers["location"], headers=headers, json=change)
    assert response.status_code == 422, response.text
    after = await client.get(created.headers["location"], headers=acme.auth[Role.OWNER])
    assert after.json() == created.json()


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [({}, 428, "precondition_required"), ({"If-Match": '"9"'}, 412, "precondition_failed")],
)
async def test_patch_and_delete_need_the_current_etag(
    client: httpx.AsyncClient, acme: Tenant, customer: str, headers: dict[str, str], status: int, code: str
) -> None:
    created = await new_invoice(client, acme, customer)
    url = created.headers["location"]
    for response in (
        await client.patch(url, headers={**acme.auth[Role.OWNER], **headers}, json={"memo": "x"}),
        await client.delete(url, headers={**acme.auth[Role.OWNER], **headers}),
    ):
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await client.get(url, headers=acme.auth[Role.OWNER])).json() == created.json()
    cached = await client.get(
        url, headers={**acme.auth[Role.OWNER], "If-None-Match": created.headers["etag"]}
    )
    assert (cached.status_code, cached.content) == (304, b"")


async def test_two_patches_with_one_etag_one_wins(
    client: httpx.AsyncClient, acme: Tenant, customer: str, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers whole")
    created = await new_invoice(client, acme, customer)
    headers = {**acme.auth[Role.OWNER], "If-Match": created.headers["etag"]}
    statuses: list[int] = []

    async def change(memo: str) -> None:
        response = await client.patch(created.headers["location"], headers=headers, json={"memo": memo})
        statuses.append(response.status_code)

    async with anyio.create_task_group() as group:
        for memo in ("First", "Second"):
            group.start_soon(change, memo)
    assert sorted(statuses) == [200, 412]


async def test_the_state_machine(client: httpx.AsyncClient, acme: Tenant, customer: str) -> None:
    draft = await new_invoice(client, acme, customer)
    url = draft.headers["location"]
    accountant = acme.auth[Role.ACCOUNTANT]
    opened = await client.post(f"{url}/finalize", headers=accountant)
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert body["status"] == "open"
    assert body["number"].startswith("INV-")
    assert body["number"].endswith("-000001")
    assert body["finalized_at"] is not None
    again = await client.post(f"{url}/finalize", headers=accountant)
    assert (again.status_code, again.json()["code"], again.json()["invoice_status"]) == (
        409,
        "invoice_not_draft",
        "open",
    )
    patched = await client.patch(
        url, headers={**accountant, "If-Match": opened.headers["etag"]}, json={"memo": "x"}
    )
    assert (patched.status_code, patched.json()["code"]) == (409, "invoice_not_draft")
    deleted = await client.delete(url, headers={**accountant, "If-Match": opened.headers["etag"]})
    assert (deleted.status_code, deleted.json()["code"]) == (409, "invoice_not_draft")
    voided = await client.post(f"{url}/void", headers=accountant)
    assert (voided.status_code, voided.json()["status"], voided.json()["number"]) == (
        200,
        "void",
        body["number"],
    )
    twice = await client.post(f"{url}/void", headers=accountant)
    assert (twice.status_code, twice.json()["code"]) == (409, "invoice_not_voidable")
    stale = await client.post(
        f"{(await new_invoice(client, acme, customer)).headers['location']}/void",
        headers={**accountant, "If-Match": '"5"'},
    )
    assert stale.status_code == 412


async def test_a_zero_invoice_is_paid_when_finalized(
    client: httpx.AsyncClient, acme: Tenant, customer: str
) -> None:
    free = [{"description": "Free trial", "quantity": "1", "unit_price": "0"}]
    body = await finalized_invoice(client, acme, customer, line_items=free)
    assert (body["status"], body["amount_due"]) == ("paid", "0.00")


async def test_members_change_only_their_own_drafts(
    client: httpx.AsyncClient, acme: Tenant, customer: str
) -> None:
    mine = await new_invoice(client, acme, customer, role=Role.MEMBER)
    theirs = await new_invoice(client, acme, customer, role=Role.ACCOUNTANT)
    member = acme.auth[Role.MEMBER]
    ok = await client.patch(
        mine.headers["location"], headers={**member, "If-Match": '"1"'}, json={"memo": "m"}
    )
    assert ok.status_code == 200
    refused = await client.patch(
        theirs.headers["location"], headers={**member, "If-Match": '"1"'}, json={"memo": "m"}
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "not_invoice_creator")
    gone = await client.delete(theirs.headers["location"], headers={**member, "If-Match": '"1"'})
    assert gone.status_code == 403
    finalize = await client.post(f"{mine.headers['location']}/finalize", headers=member)
    assert finalize.status_code == 403


async def test_a_rolled_back_finalization_leaves_no_gap(
    client: httpx.AsyncClient, acme: Tenant, customer: str
) -> None:
    first = await finalized_invoice(client, acme, customer)
    draft = await new_invoice(client, acme, customer)
    refused = await client.post(
        f"{draft.headers['location']}/finalize", headers={**acme.auth[Role.OWNER], "If-Match": '"7"'}
    )
    assert refused.status_code == 412  # refused before numbering: nothing taken
    second = await finalized_invoice(client, acme, customer)
    assert int(second["number"][-6:]) == int(first["number"][-6:]) + 1


async def test_concurrent_finalizations_get_consecutive_numbers(
    client: httpx.AsyncClient, acme: Tenant, customer: str, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent transactions are PostgreSQL's; SQLite serialises writers whole")
    drafts = [(await new_invoice(client, acme, customer)).headers["location"] for _ in range(50)]
    numbers: list[str] = []

    async def finalize(url: str) -> None:
        response = await client.post(f"{url}/finalize", headers=acme.auth[Role.ACCOUNTANT])
        assert response.status_code == 200, response.text
        numbers.append(response.json()["number"])

    async with anyio.create_task_group() as group:
        for url in drafts:
            group.start_soon(finalize, url)
    sequence = sorted(int(number[-6:]) for number in numbers)
    assert sequence == list(range(1, 51))


async def test_a_customer_with_invoices_stays(client: httpx.AsyncClient, acme: Tenant, customer: str) -> None:
    await new_invoice(client, acme, customer)
    url = acme.path(f"/customers/{customer}")
    etag = (await client.get(url, headers=acme.auth[Role.OWNER])).headers["etag"]
    refused = await client.delete(url, headers={**acme.auth[Role.OWNER], "If-Match": etag})
    assert (refused.status_code, refused.json()["code"]) == (409, "customer_has_invoices")
    assert (await client.get(url, headers=acme.auth[Role.OWNER])).status_code == 200


async def test_each_change_is_an_event_with_the_invoice_as_answered(
    client: httpx.AsyncClient, acme: Tenant, customer: str
) -> None:
    owner = acme.auth[Role.OWNER]
    created = await new_invoice(client, acme, customer)
    url = created.headers["location"]
    changed = await client.patch(url, headers={**owner, "If-Match": '"1"'}, json={"memo": "Now with memo"})
    opened = await client.post(f"{url}/finalize", headers=owner)
    voided = await client.post(f"{url}/void", headers=owner)
    free = [{"description": "Free", "quantity": "1", "unit_price": "0"}]
    paid = await finalized_invoice(client, acme, customer, line_items=free)
    discarded = await new_invoice(client, acme, customer)
    gone = await client.delete(discarded.headers["location"], headers={**owner, "If-Match": '"1"'})
    assert gone.status_code == 204
    listed = await client.get(acme.path("/events"), headers=owner, params={"limit": 200})
    events = [(event["type"], event["data"]) for event in reversed(listed.json()["items"])]
    invoice_events = [(kind, data) for kind, data in events if kind.startswith("invoice.")]
    assert invoice_events[:4] == [
        ("invoice.created", created.json()),
        ("invoice.updated", changed.json()),
        ("invoice.finalized", opened.json()),
        ("invoice.voided", voided.json()),
    ]
    assert [kind for kind, _ in invoice_events[4:]] == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.created",
        "invoice.deleted",
    ]
    assert invoice_events[6][1] == paid
    assert invoice_events[8][1] == discarded.json()
    audit = await client.get(acme.path("/audit-log"), headers=owner, params={"limit": 200})
    actions = [entry["action"] for entry in audit.json()["items"] if entry["action"].startswith("invoice.")]
    assert sorted(actions) == sorted(kind for kind, _ in invoice_events)


@pytest.mark.parametrize("invoice_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"])
async def test_an_invoice_id_is_a_uuid(client: httpx.AsyncClient, acme: Tenant, invoice_id: str) -> None:
    response = await client.get(acme.path(f"/invoices/{invoice_id}"), headers=acme.auth[Role.VIEWER])
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "invoice_id"]


@pytest.mark.parametrize("number", [b"0.1", b"1e999999", b"-1e999999", b"100", b"NaN", b"Infinity"])
async def test_json_numbers_for_amounts_are_refused_whatever_their_size(
    client: httpx.AsyncClient, acme: Tenant, customer: str, number: bytes
) -> None:
    template = invoice_body(customer, line_items=[{**LINE, "unit_price": "UNIT_PRICE"}])
    raw = json.dumps(template).encode().replace(b'"UNIT_PRICE"', number)
    response = await client.post(
        acme.path("/invoices"),
        headers={**acme.auth[Role.OWNER], "Content-Type": "application/json"},
        content=raw,
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"][-1] == "unit_price" or error["type"] == "json_invalid"
    listed = await client.get(acme.path("/invoices"), headers=acme.auth[Role.OWNER])
    assert listed.json()["items"] == []
