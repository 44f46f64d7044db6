"""The invoice list: every filter, every sort order walked page by page, cursors bound to their
query, summaries without lines, and a statement count that does not grow with the page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from app.core.permissions import Role
from app.models import Invoice, InvoiceStatus
from app.models.base import utcnow
from tests.support.factories import write_rows
from tests.support.invoicing import invoice_row, new_customer
from tests.support.response_path import statements_before_response
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

TODAY = utcnow().date()


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def listed(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[str]:
    """Every id the list answers, page by page through `Link`, for these parameters."""
    response = await client.get(tenant.path("/invoices"), headers=tenant.auth[Role.VIEWER], params=params)
    ids: list[str] = []
    while True:
        assert response.status_code == 200, response.text
        ids += [item["id"] for item in response.json()["items"]]
        link = response.headers.get("link")
        if link is None:
            return ids
        response = await client.get(link[1 : link.index(">")], headers=tenant.auth[Role.VIEWER])


@pytest.fixture
async def book(client: httpx.AsyncClient, acme: Tenant) -> dict[str, Invoice]:
    """Invoices that differ in every filtered field, with ties in every sort column."""
    globex, initech = await new_customer(client, acme, "Globex"), await new_customer(client, acme, "Initech")
    past, future = TODAY - timedelta(days=5), TODAY + timedelta(days=5)
    rows = {
        "draft": invoice_row(acme, globex, total="10.00", memo="Rush order"),
        "open_late": invoice_row(
            acme,
            globex,
            status=InvoiceStatus.OPEN,
            number="INV-2026-000001",
            issued=past - timedelta(days=1),
            due=past,
        ),
        "open_on_time": invoice_row(
            acme, initech, status=InvoiceStatus.OPEN, number="INV-2026-000002", due=future, total="9.99"
        ),
        "paid": invoice_row(
            acme, initech, status=InvoiceStatus.PAID, number="INV-2026-000003", currency="JPY", total="100"
        ),
        "void": invoice_row(
            acme,
            globex,
            status=InvoiceStatus.VOID,
            number="INV-2026-000004",
            issued=date(2025, 12, 31),
            total="1000000.00",
        ),
        "big": invoice_row(acme, initech, currency="KWD", total="99999999999.999", issued=date(2026, 2, 1)),
    }
    await write_rows(client, list(rows.values()))
    return rows


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"draft", "open_late", "open_on_time", "paid", "void", "big"}),
        ({"status": "open"}, {"open_late", "open_on_time"}),
        ({"status": ["open", "paid"]}, {"open_late", "open_on_time", "paid"}),
        ({"currency": "JPY"}, {"paid"}),
        ({"issued_from": "2026-01-10", "issued_to": "2026-01-10"}, {"draft", "open_on_time", "paid"}),
        ({"issued_to": "2025-12-31"}, {"void"}),
        ({"overdue": "true"}, {"open_late"}),
        ({"overdue": "false"}, {"draft", "open_on_time", "paid", "void", "big"}),
        ({"q": "rush"}, {"draft"}),
        ({"q": "000003"}, {"paid"}),
        ({"q": "INITECH"}, {"open_on_time", "paid", "big"}),
        ({"q": "%"}, set()),
        ({"status": "draft", "currency": "KWD"}, {"big"}),
    ],
)
async def test_filters(
    client: httpx.AsyncClient,
    acme: Tenant,
    book: dict[str, Invoice],
    params: dict[str, Any],
    expected: set[str],
) -> None:
    names = {str(invoice.id): name for name, invoice in book.items()}
    assert {names[found] for found in await listed(client, acme, limit=2, **params)} == expected


async def test_customer_and_due_filters(
    client: httpx.AsyncClient, acme: Tenant, book: dict[str, Invoice]
) -> None:
    globex = str(book["draft"].customer_id)
    by_customer = await listed(client, acme, customer_id=globex)
    assert set(by_customer) == {str(book[name].id) for name in ("draft", "open_late", "void")}
    due_soon = await listed(client, acme, due_before=(TODAY + timedelta(days=1)).isoformat())
    assert str(book["open_late"].id) in due_soon
    assert str(book["open_on_time"].id) not in due_soon


SORT_KEYS = {
    "issue_date": lambda invoice: invoice.issue_date,
    "due_date": lambda invoice: invoice.due_date,
    "total": lambda invoice: invoice.total,
    "created_at": lambda invoice: invoice.id,  # made in one transaction: the id breaks the tie
}


@pytest.mark.parametrize("sort", [*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)])
async def test_every_sort_walks_every_row_once_in_order(
    client: httpx.AsyncClient, acme: Tenant, book: dict[str, Invoice], sort: str
) -> None:
    column = sort.removeprefix("-")
    descending = sort.startswith("-")
    expected = sorted(
        book.values(), key=lambda invoice: (SORT_KEYS[column](invoice), invoice.id), reverse=descending
    )
    for limit in (1, 4, 200):
        assert await listed(client, acme, sort=sort, limit=limit) == [str(invoice.id) for invoice in expected]


async def test_a_cursor_serves_only_its_own_query(
    client: httpx.AsyncClient, acme: Tenant, book: dict[str, Invoice]
) -> None:
    viewer = acme.auth[Role.VIEWER]
    first = await client.get(acme.path("/invoices"), headers=viewer, params={"limit": 1, "sort": "total"})
    cursor = first.json()["next_cursor"]
    assert cursor
    for params in (
        {"sort": "-total"},
        {"sort": "total", "status": "open"},
        {"sort": "total", "q": "x"},
        {"sort": "issue_date"},
    ):
        other = await client.get(acme.path("/invoices"), headers=viewer, params={**params, "cursor": cursor})
        assert (other.status_code, other.json()["code"]) == (400, "invalid_cursor"), params
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    refused = await client.get(
        acme.path("/invoices"), headers=viewer, params={"sort": "total", "cursor": tampered}
    )
    assert refused.status_code == 400
    globex = await make_tenant(client, "Globex")
    foreign = await client.get(
        globex.path("/invoices"), headers=globex.auth[Role.VIEWER], params={"sort": "total", "cursor": cursor}
    )
    assert (foreign.status_code, foreign.json()["code"]) == (400, "invalid_cursor")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "201"},
        {"limit": "0"},
        {"status": "paid-ish"},
        {"sort": "amount"},
        {"currency": "eur"},
        {"issued_from": "2026-02-01", "issued_to": "2026-01-01"},
        {"issued_from": "1 Jan 2026"},
        {"due_before": "0001-01-01"},
        {"customer_id": "not-a-uuid"},
        {"overdue": "perhaps"},
        {"q": ""},
        {"q": "x" * 201},
        {"status": ["draft", "open", "paid", "void", "draft"]},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, acme: Tenant, params: dict[str, Any]
) -> None:
    response = await client.get(acme.path("/invoices"), headers=acme.auth[Role.VIEWER], params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_list_items_are_summaries(
    client: httpx.AsyncClient, acme: Tenant, book: dict[str, Invoice]
) -> None:
    response = await client.get(
        acme.path("/invoices"), headers=acme.auth[Role.VIEWER], params={"sort": "total"}
    )
    item = response.json()["items"][0]
    assert "line_items" not in item
    assert (item["id"], item["total"], item["amount_due"]) == (str(book["open_on_time"].id), "9.99", "9.99")
    late = next(entry for entry in response.json()["items"] if entry["id"] == str(book["open_late"].id))
    assert late["overdue"] is True


async def test_the_statement_count_does_not_grow_with_the_page(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    customer = await new_customer(client, acme)
    await write_rows(client, [invoice_row(acme, customer, lines=3) for _ in range(200)])
    url = acme.path("/invoices")
    headers = acme.auth[Role.VIEWER]
    ten = await statements_before_response(client, "GET", url, headers=headers, params={"limit": 10})
    all_of_them = await statements_before_response(client, "GET", url, headers=headers, params={"limit": 200})
    assert len(ten) == len(all_of_them)
    assert not any("invoice_line_items" in statement for statement in all_of_them)


async def test_one_invoice_with_100_lines_is_a_bounded_number_of_statements(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    customer = await new_customer(client, acme)
    one, hundred = invoice_row(acme, customer, lines=1), invoice_row(acme, customer, lines=100)
    await write_rows(client, [one, hundred])
    headers = acme.auth[Role.VIEWER]
    small = await statements_before_response(client, "GET", acme.path(f"/invoices/{one.id}"), headers=headers)
    large = await statements_before_response(
        client, "GET", acme.path(f"/invoices/{hundred.id}"), headers=headers
    )
    assert len(small) == len(large)
    assert sum("invoice_line_items" in statement for statement in large) == 1
