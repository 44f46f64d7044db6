"""The hosted invoice page an emailed link opens: what it shows, how it guards the token in its
URL, its PDF, hostile tokens, revoked and void invoices, its rate limit, and tenants apart."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.permissions import Role
from app.models import InvoiceLink, Organization
from tests.support.invoicing import finalized_invoice
from tests.support.smtp import MailSink
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

LINK = re.compile(r"https?://\S+/i/([A-Za-z0-9_-]{43})\b")
CUSTOMER_EMAIL = "billing@globex.example.com"
ADDRESS = {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def sent_invoice(
    client: httpx.AsyncClient,
    mail: MailSink,
    tenant: Tenant,
    *,
    name: str = "Globex Corporation",
    **fields: Any,
) -> tuple[dict[str, Any], str]:
    """A finalized invoice, emailed to its customer: the invoice and its link's token."""
    created = await client.post(
        tenant.path("/customers"),
        headers=tenant.auth[Role.OWNER],
        json={"name": name, "email": CUSTOMER_EMAIL, "address": ADDRESS},
    )
    assert created.status_code == 201, created.text
    invoice = await finalized_invoice(client, tenant, str(created.json()["id"]), **fields)
    sent = await client.post(
        tenant.path(f"/invoices/{invoice['id']}/send"), headers=tenant.auth[Role.ACCOUNTANT]
    )
    assert sent.status_code == 202, sent.text
    match = LINK.search(mail.to(CUSTOMER_EMAIL)[-1].body)
    assert match
    return invoice, match.group(1)


def assert_guarded(response: httpx.Response) -> None:
    """The headers that keep a token in the URL out of caches, Referers and search indexes."""
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-robots-tag"] == "noindex, nofollow"


async def test_the_page_shows_the_invoice_without_signing_in(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    invoice, token = await sent_invoice(client, mail, acme, memo="Thank you for your business.")
    page = await client.get(f"/i/{token}")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert_guarded(page)
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'none'" in policy
    assert "script-src" not in policy
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    for shown in (
        f"Invoice {invoice['number']}",
        "Acme",
        "Globex Corporation",
        "Hauptstraße 1, 10115 Berlin, DE",
        "November 1, 2026",  # issued
        "December 1, 2026",  # due
        "Consulting",
        "€100.00",  # unit price
        "19%",
        "€200.00",  # line and subtotal
        "€38.00",
        "€238.00",  # total and due
        "open",
        "Thank you for your business.",
        f'href="/i/{token}/pdf"',
    ):
        assert shown in page.text, shown


async def test_the_pdf(client: httpx.AsyncClient, acme: Tenant, mail: MailSink) -> None:
    invoice, token = await sent_invoice(client, mail, acme)
    pdf = await client.get(f"/i/{token}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert_guarded(pdf)
    assert pdf.content.startswith(b"%PDF-")


async def test_everything_shown_is_escaped(client: httpx.AsyncClient, acme: Tenant, mail: MailSink) -> None:
    hostile = '<script>alert("x")</script>'
    line = {"description": f"{hostile} & <b>bold</b>", "quantity": "1", "unit_price": "5.00"}
    _, token = await sent_invoice(client, mail, acme, name=f"Evil {hostile}", memo=hostile, line_items=[line])
    page = await client.get(f"/i/{token}")
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "<b>" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text
    assert "&amp; &lt;b&gt;bold&lt;/b&gt;" in page.text


async def test_a_void_invoice_shows_as_void_with_nothing_due(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    invoice, token = await sent_invoice(client, mail, acme)
    voided = await client.post(acme.path(f"/invoices/{invoice['id']}/void"), headers=acme.auth[Role.OWNER])
    assert voided.status_code == 200
    page = await client.get(f"/i/{token}")
    assert page.status_code == 200
    assert "status-void" in page.text
    assert re.search(r"Amount due</strong></td><td class=\"num\"><strong>€0.00", page.text)


HOSTILE_TOKENS = [
    "A" * 43,  # well-formed, unknown
    "A" * 44,
    "A" * 5000,
    "é" * 43,
    "%C3%A9" * 8,
    "%00" + "A" * 40,
    "%2e%2e",
    "A" * 42 + "%20",
    "A" * 42 + "=",
]


@pytest.mark.parametrize("token", HOSTILE_TOKENS)
async def test_hostile_and_unknown_tokens_are_one_404(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, token: str
) -> None:
    await sent_invoice(client, mail, acme)  # a live link exists: none of these is it
    for path in (f"/i/{token}", f"/i/{token}/pdf"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "Invoice not found" in response.text
        assert_guarded(response)


async def test_path_tricks_do_not_reach_anything_else(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    _, token = await sent_invoice(client, mail, acme)
    for path in (
        f"/i/{token}/",
        f"/i/{token}/pdf/",
        f"/i/{token}/../pdf",
        f"/i/{token}/pdf/x",
        f"/i/{token}x",
    ):
        response = await client.get(path)
        assert response.status_code in (404, 307), path
        assert response.status_code != 200 or "Invoice" in response.text


async def test_a_link_shows_only_its_own_organizations_invoice(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, database_url: str
) -> None:
    acme_invoice, acme_token = await sent_invoice(client, mail, acme)
    globex = await make_tenant(client, "Globex")
    globex_invoice, globex_token = await sent_invoice(client, mail, globex, memo="Globex memo")
    assert acme_invoice["number"] == globex_invoice["number"]  # numbers are per organization
    acme_page = (await client.get(f"/i/{acme_token}")).text
    globex_page = (await client.get(f"/i/{globex_token}")).text
    assert "From <strong>Acme</strong>" in acme_page
    assert "Globex memo" not in acme_page
    assert "From <strong>Globex</strong>" in globex_page
    assert "Globex memo" in globex_page
    # Revoking one organization's links leaves the other's alone.
    await client.delete(acme.path(f"/invoices/{acme_invoice['id']}/link"), headers=acme.auth[Role.OWNER])
    assert (await client.get(f"/i/{acme_token}")).status_code == 404
    assert (await client.get(f"/i/{globex_token}")).status_code == 200


async def test_a_deleted_organizations_links_are_gone(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    _, token = await sent_invoice(client, mail, acme)
    deleted = await client.delete(acme.path(), headers=acme.auth[Role.OWNER], params={"confirm": acme.slug})
    assert deleted.status_code == 204
    assert (await client.get(f"/i/{token}")).status_code == 404


async def test_a_view_is_recorded_at_most_once_a_minute(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, database_url: str
) -> None:
    _, token = await sent_invoice(client, mail, acme)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(select(InvoiceLink.last_viewed_at)) is None
        await client.get(f"/i/{token}")
        async with engine.connect() as connection:
            first = await connection.scalar(select(InvoiceLink.last_viewed_at))
        assert first is not None
        await client.get(f"/i/{token}/pdf")
        async with engine.connect() as connection:
            assert await connection.scalar(select(InvoiceLink.last_viewed_at)) == first
    finally:
        await engine.dispose()


async def test_the_token_is_stored_only_as_a_keyed_hash(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, database_url: str
) -> None:
    _, token = await sent_invoice(client, mail, acme)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            [stored] = list(await connection.scalars(select(InvoiceLink.token_hash)))
    finally:
        await engine.dispose()
    assert token not in stored
    assert len(stored) == 64
    assert stored != hashlib.sha256(token.encode()).hexdigest()  # keyed, not a plain digest


async def test_pages_are_rate_limited_per_client(make_client: Any, mail: MailSink) -> None:
    async with make_client(rate_limit_hosted_invoice="3/minute") as client:
        acme = await make_tenant(client)
        _, token = await sent_invoice(client, mail, acme)
        answers = [(await client.get(f"/i/{token}")).status_code for _ in range(3)]
        assert answers == [200, 200, 200]
        refused = await client.get(f"/i/{token}/pdf")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "text/html; charset=utf-8"
        assert int(refused.headers["retry-after"]) >= 1
        # Unknown tokens count too: guessing is limited like reading.
        assert (await client.get(f"/i/{'A' * 43}")).status_code == 429


async def test_a_revoked_link_stays_revoked(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, database_url: str
) -> None:
    """Nothing but a new send makes a new link: a later change of the organization revives nothing."""
    invoice, token = await sent_invoice(client, mail, acme)
    await client.delete(acme.path(f"/invoices/{invoice['id']}/link"), headers=acme.auth[Role.OWNER])
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(Organization).values(name="Acme renamed"))
    finally:
        await engine.dispose()
    assert (await client.get(f"/i/{token}")).status_code == 404
