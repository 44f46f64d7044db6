"""Invoice PDFs: finalized invoices only, the page's text as babel writes it, the ETag and 304,
a new tag and new bytes after a change, one render per version, and long invoices on pages."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from babel.numbers import format_currency
from pypdf import PdfReader

from app.core.permissions import Role
from app.services.invoice_pdf import InvoiceDocument
from tests.support.invoicing import finalized_invoice, new_customer, new_invoice
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

ADDRESS = {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def customer(client: httpx.AsyncClient, acme: Tenant, name: str = "Globex Corporation") -> str:
    created = await client.post(
        acme.path("/customers"),
        headers=acme.auth[Role.OWNER],
        json={"name": name, "address": ADDRESS, "tax_id": "DE123456789"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def get_pdf(client: httpx.AsyncClient, acme: Tenant, invoice_id: str, **headers: str) -> httpx.Response:
    return await client.get(
        acme.path(f"/invoices/{invoice_id}/pdf"), headers={**acme.auth[Role.VIEWER], **headers}
    )


def text_of(content: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def money(amount: str, currency: str) -> str:
    return format_currency(Decimal(amount), currency, locale="en_US")


async def test_a_finalized_invoice_as_pdf(client: httpx.AsyncClient, acme: Tenant) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    response = await get_pdf(client, acme, invoice["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{invoice["number"]}.pdf"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["etag"].startswith('"pdf-')
    assert "ratelimit" in response.headers  # set by a dependency, kept on the returned response
    assert response.content.startswith(b"%PDF-")
    text, pages = text_of(response.content)
    assert pages == 1
    for expected in (
        invoice["number"],
        "Globex Corporation",
        "Hauptstraße 1",
        "10115 Berlin",
        "Tax ID: DE123456789",
        "OPEN",
        "Consulting",
        money("200.00", "EUR"),  # subtotal
        money("38.00", "EUR"),  # tax
        money("238.00", "EUR"),  # total and due
        money("0.00", "EUR"),  # paid
    ):
        assert expected in text, expected
    inline = await client.get(
        acme.path(f"/invoices/{invoice['id']}/pdf"),
        headers=acme.auth[Role.VIEWER],
        params={"disposition": "inline"},
    )
    assert inline.headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'


async def test_a_draft_has_no_pdf(client: httpx.AsyncClient, acme: Tenant) -> None:
    draft = (await new_invoice(client, acme, await new_customer(client, acme))).json()
    response = await get_pdf(client, acme, draft["id"])
    assert response.status_code == 409
    assert response.json()["code"] == "invoice_not_finalized"
    assert response.json()["invoice_status"] == "draft"
    missing = await get_pdf(client, acme, str(uuid.uuid4()))
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("currency", "price", "expected"),
    [
        ("JPY", "1500", ("¥1,500", "¥3,000", "¥3,570")),
        ("KWD", "1.2345", ("KWD2.469", "KWD0.469", "KWD2.938")),
    ],
)
async def test_amounts_in_the_currency_minor_units(
    client: httpx.AsyncClient, acme: Tenant, currency: str, price: str, expected: tuple[str, ...]
) -> None:
    line = {"description": "Widgets", "quantity": "2", "unit_price": price, "tax_rate": "0.19"}
    invoice = await finalized_invoice(
        client, acme, await customer(client, acme), currency=currency, line_items=[line]
    )
    text, _ = text_of((await get_pdf(client, acme, invoice["id"])).content)
    for amount in (invoice["subtotal"], invoice["tax_total"], invoice["total"]):
        assert money(amount, currency) in text
    for written in expected:  # as babel writes them for en_US: no decimals for JPY, three for KWD
        assert written in text, written


async def test_non_latin_names_are_drawn(client: httpx.AsyncClient, acme: Tenant) -> None:
    name = "Ελληνική Εταιρεία · Торговый дом «Ромашка»"
    invoice = await finalized_invoice(client, acme, await customer(client, acme, name))
    text, _ = text_of((await get_pdf(client, acme, invoice["id"])).content)
    assert name in " ".join(text.split())  # wrapped onto two lines in its column


async def test_a_script_the_font_lacks_is_no_error(client: httpx.AsyncClient, acme: Tenant) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme, "株式会社テスト Ltd"))
    response = await get_pdf(client, acme, invoice["id"])
    assert response.status_code == 200
    assert "Ltd" in text_of(response.content)[0]


async def test_not_modified_then_new_after_a_payment_and_a_void(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    first = await get_pdf(client, acme, invoice["id"])
    etag = first.headers["etag"]
    again = await get_pdf(client, acme, invoice["id"], **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert again.content == b""

    paid = await client.post(
        acme.path(f"/invoices/{invoice['id']}/payments"),
        headers={**acme.auth[Role.ACCOUNTANT], "Idempotency-Key": str(uuid.uuid4())},
        json={"amount": "38.00", "method": "cash"},
    )
    assert paid.status_code == 201, paid.text
    after_payment = await get_pdf(client, acme, invoice["id"], **{"If-None-Match": etag})
    assert after_payment.status_code == 200
    assert after_payment.headers["etag"] != etag
    assert after_payment.content != first.content
    assert money("200.00", "EUR") in text_of(after_payment.content)[0]  # due after 38.00 paid

    voided = await client.post(acme.path(f"/invoices/{invoice['id']}/void"), headers=acme.auth[Role.OWNER])
    assert voided.status_code == 200, voided.text
    after_void = await get_pdf(client, acme, invoice["id"])
    assert after_void.headers["etag"] not in (etag, after_payment.headers["etag"])
    assert "VOID" in text_of(after_void.content)[0]


async def test_each_version_is_rendered_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    pdfs = client.app.state.services.invoice_pdfs  # type: ignore[attr-defined]
    rendered: list[str] = []
    original = pdfs.render

    def counting(document: InvoiceDocument, locale: str) -> bytes:
        rendered.append(document.number)
        content: bytes = original(document, locale)
        return content

    pdfs.render = counting
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    first = await get_pdf(client, acme, invoice["id"])
    second = await get_pdf(client, acme, invoice["id"])  # no If-None-Match: from the cache
    assert first.content == second.content
    assert rendered == [invoice["number"]]
    await client.post(acme.path(f"/invoices/{invoice['id']}/void"), headers=acme.auth[Role.OWNER])
    await get_pdf(client, acme, invoice["id"])
    assert rendered == [invoice["number"]] * 2


async def test_a_hundred_lines_span_pages(client: httpx.AsyncClient, acme: Tenant) -> None:
    lines: list[dict[str, Any]] = [
        {
            "description": f"Line {n}: " + "a description long enough to wrap onto a second line " * (n % 3),
            "quantity": "1",
            "unit_price": "10.00",
        }
        for n in range(1, 101)
    ]
    invoice = await finalized_invoice(client, acme, await customer(client, acme), line_items=lines)
    text, pages = text_of((await get_pdf(client, acme, invoice["id"])).content)
    assert pages >= 3
    assert text.count("Unit price") == pages  # the table's heading on every page
    assert f"Page {pages} of {pages}" in text
    assert "Line 100:" in text
    assert money("1000.00", "EUR") in text
