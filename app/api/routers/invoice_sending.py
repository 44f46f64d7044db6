"""/api/v1/orgs/{org_id}/invoices/{invoice_id}/send and /link: emailing an invoice to its
customer, and ending the public links those emails carry (app/services/invoice_sending.py)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.api.contract import problems
from app.api.dependencies.core import ServicesDep, SessionDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.tenancy import RequirePermission
from app.core.errors import (
    CustomerEmailMissingError,
    InvoiceNotFinalizedError,
    InvoiceNotSendableError,
    NotFoundError,
    PreconditionFailedError,
)
from app.core.permissions import Permission
from app.models.base import utc_today, utcnow
from app.schemas.invoice_sending import InvoiceSendPublic
from app.services import invoice_links, invoice_sending
from app.services.organizations import OrgContext

router = APIRouter(prefix="/orgs/{org_id}/invoices", tags=["invoices"], route_class=IdempotentRoute)

InvoiceSender = Annotated[OrgContext, Depends(RequirePermission(Permission.INVOICES_SEND))]


@router.post(
    "/{invoice_id}/send",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Email the invoice to its customer",
    description="Queues an email to the customer's address with the invoice's PDF attached and a "
    "link to its public page (`/i/{token}`, no sign-in, read-only; each email carries a link of its "
    "own). An open or paid invoice only: a draft is 409 `invoice_not_finalized`, a void one 409 "
    "`invoice_not_sendable`; a customer without `email` is 409 `customer_email_missing`. Sending "
    "marks the invoice (`sent_at`, a new version) and records `invoice.sent`. Once per version: "
    "sending again while the invoice is unchanged queues nothing and answers about the same email; "
    "after a change (a payment, a void, an overdue mark) it emails again. The email is sent by a "
    "worker, with retries; `email.status` says how far it got.",
    responses=problems(
        NotFoundError,
        InvoiceNotFinalizedError,
        InvoiceNotSendableError,
        CustomerEmailMissingError,
        PreconditionFailedError,
    ),
)
async def send_invoice(
    invoice_id: uuid.UUID,
    context: InvoiceSender,
    session: SessionDep,
    services: ServicesDep,
    _idempotent: Idempotent,
) -> InvoiceSendPublic:
    sending = await invoice_sending.send_invoice(
        session=session,
        context=context,
        invoice_id=invoice_id,
        mailer=services.mailer,
        pdfs=services.invoice_pdfs,
        hasher=services.invoice_link_hasher,
        base_url=services.settings.public_base_url,
        today=utc_today(),
    )
    return InvoiceSendPublic.from_sending(sending)


@router.delete(
    "/{invoice_id}/link",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke the invoice's public links",
    description="Every public link to the invoice that its emails carried stops working at once "
    "(404, as an unknown link). Ending live links counts as a change of the invoice (a new version "
    "and `ETag`), so sending it again emails the customer a new link. 204 whether or not a link "
    "was live.",
    responses=problems(NotFoundError),
)
async def revoke_invoice_links(invoice_id: uuid.UUID, context: InvoiceSender, session: SessionDep) -> None:
    await invoice_links.revoke_links(session=session, context=context, invoice_id=invoice_id, now=utcnow())
