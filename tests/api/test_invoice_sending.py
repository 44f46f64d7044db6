"""Sending invoices: the email (PDF attached, a link to the hosted page), once per version,
the refusals, the `invoice.sent` event, revoking the links, and nothing across organizations."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import anyio
import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.permissions import Role
from app.models import InvoiceLink, Job
from tests.support.invoicing import finalized_invoice, new_invoice
from tests.support.smtp import MailSink, ReceivedMail
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

CUSTOMER_EMAIL = "billing@globex.example.com"
LINK = re.compile(r"https?://\S+/i/([A-Za-z0-9_-]{43})\b")


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def customer(client: httpx.AsyncClient, tenant: Tenant, email: str | None = CUSTOMER_EMAIL) -> str:
    body: dict[str, Any] = {"name": "Globex Corporation"}
    if email is not None:
        body["email"] = email
    created = await client.post(tenant.path("/customers"), headers=tenant.auth[Role.OWNER], json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def send(client: httpx.AsyncClient, tenant: Tenant, invoice_id: str, **headers: str) -> httpx.Response:
    return await client.post(
        tenant.path(f"/invoices/{invoice_id}/send"), headers={**tenant.auth[Role.ACCOUNTANT], **headers}
    )


def link_token(mail: ReceivedMail) -> str:
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


async def count(database_url: str, model: Any, *where: Any) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        await engine.dispose()


async def test_sending_emails_the_pdf_and_a_link_to_the_hosted_page(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    url = acme.path(f"/invoices/{invoice['id']}")
    version = int((await client.get(url, headers=acme.auth[Role.VIEWER])).headers["etag"].strip('"'))
    sent = await send(client, acme, invoice["id"])
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert body["invoice_id"] == invoice["id"]
    assert body["to"] == CUSTOMER_EMAIL
    assert body["invoice_version"] == version + 1  # sending is a change of its own
    assert body["email"]["status"] == "pending"  # answered before the worker ran
    [message] = mail.to(CUSTOMER_EMAIL)
    assert message.subject == f"Invoice {invoice['number']} from Acme"
    assert "Amount due: €238.00" in message.body
    [pdf] = message.attachments
    assert (pdf.filename, pdf.content_type) == (f"{invoice['number']}.pdf", "application/pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert invoice["number"] in text
    assert "Globex Corporation" in text
    page = await client.get(f"/i/{link_token(message)}")
    assert page.status_code == 200
    assert invoice["number"] in page.text
    read = await client.get(url, headers=acme.auth[Role.VIEWER])
    assert read.json()["sent_at"] == body["sent_at"]
    assert read.json()["sent_to"] == CUSTOMER_EMAIL
    assert read.headers["etag"] == f'"{version + 1}"'


async def test_a_second_send_of_the_same_version_emails_nothing_and_answers_the_same(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, database_url: str
) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    first = (await send(client, acme, invoice["id"])).json()
    again = await send(client, acme, invoice["id"])
    assert again.status_code == 202
    second = again.json()
    assert second["email"]["id"] == first["email"]["id"]
    assert (second["invoice_version"], second["sent_at"]) == (first["invoice_version"], first["sent_at"])
    assert second["email"]["status"] == "succeeded"  # the worker has sent it since
    assert len(mail.to(CUSTOMER_EMAIL)) == 1
    assert await count(database_url, InvoiceLink) == 1  # no email, no new link


async def test_a_send_after_a_change_emails_again_with_a_link_of_its_own(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    first = (await send(client, acme, invoice["id"])).json()
    paid = await client.post(
        acme.path(f"/invoices/{invoice['id']}/payments"),
        headers={**acme.auth[Role.ACCOUNTANT], "Idempotency-Key": str(uuid.uuid4())},
        json={"amount": "38.00", "method": "cash"},
    )
    assert paid.status_code == 201, paid.text
    second = (await send(client, acme, invoice["id"])).json()
    assert second["email"]["id"] != first["email"]["id"]
    assert second["invoice_version"] > first["invoice_version"]
    earlier, later = mail.to(CUSTOMER_EMAIL)
    assert "Amount due: €200.00" in later.body
    assert link_token(earlier) != link_token(later)
    for message in (earlier, later):  # every link shows the invoice as it is now
        page = await client.get(f"/i/{link_token(message)}")
        assert page.status_code == 200
        assert "€200.00" in page.text


async def test_the_send_is_an_event_and_an_audit_entry(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    await send(client, acme, invoice["id"])
    listed = await client.get(
        acme.path("/events"), headers=acme.auth[Role.OWNER], params={"type": "invoice.sent"}
    )
    [event] = listed.json()["items"]
    assert event["data"]["id"] == invoice["id"]
    assert event["data"]["sent_to"] == CUSTOMER_EMAIL
    assert event["actor"] == {"type": "user", "id": str(acme.ids[Role.ACCOUNTANT])}
    audit = await client.get(
        acme.path("/audit-log"), headers=acme.auth[Role.OWNER], params={"action": "invoice.sent"}
    )
    [entry] = audit.json()["items"]
    assert entry["changes"] == {"number": invoice["number"], "to": CUSTOMER_EMAIL}


@pytest.mark.parametrize(
    ("state", "status", "code"),
    [
        ("draft", 409, "invoice_not_finalized"),
        ("void", 409, "invoice_not_sendable"),
        ("no_email", 409, "customer_email_missing"),
    ],
)
async def test_what_is_not_sent(
    client: httpx.AsyncClient,
    acme: Tenant,
    mail: MailSink,
    database_url: str,
    state: str,
    status: int,
    code: str,
) -> None:
    customer_id = await customer(client, acme, email=None if state == "no_email" else CUSTOMER_EMAIL)
    if state == "draft":
        invoice_id = (await new_invoice(client, acme, customer_id)).json()["id"]
    else:
        invoice_id = (await finalized_invoice(client, acme, customer_id))["id"]
    if state == "void":
        voided = await client.post(acme.path(f"/invoices/{invoice_id}/void"), headers=acme.auth[Role.OWNER])
        assert voided.status_code == 200
    before = await client.get(acme.path(f"/invoices/{invoice_id}"), headers=acme.auth[Role.OWNER])
    refused = await send(client, acme, invoice_id)
    assert (refused.status_code, refused.json()["code"]) == (status, code)
    assert refused.headers["content-type"] == "application/problem+json"
    after = await client.get(acme.path(f"/invoices/{invoice_id}"), headers=acme.auth[Role.OWNER])
    assert after.json() == before.json()  # not marked, same version
    assert mail.received() == []
    assert await count(database_url, Job) == 0
    assert await count(database_url, InvoiceLink) == 0


async def test_an_idempotency_key_replays_the_answer(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    first = await send(client, acme, invoice["id"], **{"Idempotency-Key": "send-1"})
    replay = await send(client, acme, invoice["id"], **{"Idempotency-Key": "send-1"})
    assert replay.status_code == 202
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert len(mail.to(CUSTOMER_EMAIL)) == 1


@pytest.mark.parametrize("invoice_id", ["not-a-uuid", "1" * 5000, "%00", "..%2F..%2Fusers"])
async def test_hostile_invoice_ids_are_refused(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, invoice_id: str
) -> None:
    refused = await send(client, acme, invoice_id)
    assert refused.status_code in (404, 422)
    assert refused.headers["content-type"] == "application/problem+json"
    assert mail.received() == []


async def test_another_organizations_invoice_is_not_sent_nor_revoked(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    globex = await make_tenant(client, "Globex")
    for response in (
        await send(client, globex, invoice["id"]),
        await client.delete(globex.path(f"/invoices/{invoice['id']}/link"), headers=globex.auth[Role.OWNER]),
        # The invoice's id under its own organization, by someone outside it.
        await client.post(acme.path(f"/invoices/{invoice['id']}/send"), headers=acme.outsider),
    ):
        assert response.status_code == 404, response.text
    assert mail.received() == []


async def test_revoking_ends_every_link_of_the_invoice(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    customer_id = await customer(client, acme)
    invoice = await finalized_invoice(client, acme, customer_id)
    other = await finalized_invoice(client, acme, customer_id)
    await send(client, acme, invoice["id"])
    await send(client, acme, other["id"])
    mine, others = mail.to(CUSTOMER_EMAIL)
    revoked = await client.delete(
        acme.path(f"/invoices/{invoice['id']}/link"), headers=acme.auth[Role.ACCOUNTANT]
    )
    assert revoked.status_code == 204
    gone = await client.get(f"/i/{link_token(mine)}")
    assert gone.status_code == 404
    assert (await client.get(f"/i/{link_token(mine)}/pdf")).status_code == 404
    assert (await client.get(f"/i/{link_token(others)}")).status_code == 200  # another invoice's
    again = await client.delete(
        acme.path(f"/invoices/{invoice['id']}/link"), headers=acme.auth[Role.ACCOUNTANT]
    )
    assert again.status_code == 204
    audit = await client.get(
        acme.path("/audit-log"), headers=acme.auth[Role.OWNER], params={"action": "invoice.links_revoked"}
    )
    [entry] = audit.json()["items"]
    assert entry["changes"] == {"links": 1}


async def test_concurrent_sends_queue_one_email(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent transactions are PostgreSQL's; SQLite serialises writers whole")
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    answers: list[dict[str, Any]] = []

    async def one() -> None:
        response = await send(client, acme, invoice["id"])
        assert response.status_code == 202, response.text
        answers.append(response.json())

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(one)
    assert len({answer["email"]["id"] for answer in answers}) == 1
    assert len(mail.to(CUSTOMER_EMAIL)) == 1


async def test_a_send_after_revoking_emails_a_new_link(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    invoice = await finalized_invoice(client, acme, await customer(client, acme))
    first = (await send(client, acme, invoice["id"])).json()
    await client.delete(acme.path(f"/invoices/{invoice['id']}/link"), headers=acme.auth[Role.ACCOUNTANT])
    second = (await send(client, acme, invoice["id"])).json()
    assert second["email"]["id"] != first["email"]["id"]
    revoked, fresh = mail.to(CUSTOMER_EMAIL)
    assert (await client.get(f"/i/{link_token(revoked)}")).status_code == 404
    assert (await client.get(f"/i/{link_token(fresh)}")).status_code == 200
