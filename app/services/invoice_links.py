"""Public links to invoices: minted when an invoice is emailed, opened without signing in.

- **One link per email.** The token is stored only as its hash, so the plaintext exists in
  the one email that carries it and nowhere else: a later email (a new version of the invoice
  sent, an overdue reminder) cannot repeat an earlier link, and carries a link of its own.
  A repeated send of an unchanged invoice queues no email, so it mints no link either.
- **Every link of an invoice shows the invoice as it is now**, not as it was when emailed:
  a payment or a void shows at once. Revoking (`revoke_links`) ends all of them together; a
  revoked or unknown token is the same 404. Revoking moves the invoice's version, so a send
  after it emails the customer a new link.
- **Found by the credential, then bound.** The row is looked up by the token's hash in a
  session scoped to that credential alone (`bind_credential`; on PostgreSQL the row-level
  policy lets exactly that row be read); the session is then bound to the link's organization
  (`bind_organization`) to read the invoice, so nothing of another organization is reachable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFoundError
from app.core.security.invoice_links import LinkTokenHasher, looks_like_link_token, new_link_token
from app.db.session.tenancy import bind_credential, bind_organization
from app.models import Customer, Invoice, InvoiceLink, InvoiceStatus, Organization
from app.services import audit
from app.services.invoices import get_invoice
from app.services.organizations import OrgContext
from app.services.versioning import flush_versioned

NO_SUCH_LINK = "No such invoice link: it may have been revoked."
# A link's last view is written at most this often (a page reloaded is not a new visit).
VIEW_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class HostedInvoice:
    """What a link shows: the invoice with its lines, its customer, the organization's name."""

    link_id: uuid.UUID
    invoice: Invoice
    customer: Customer
    organization: str


def mint_link(*, session: AsyncSession, hasher: LinkTokenHasher, invoice: Invoice) -> str:
    """A new link to `invoice`, written with the caller's transaction; its token, shown once."""
    token = new_link_token()
    session.add(InvoiceLink(org_id=invoice.org_id, invoice_id=invoice.id, token_hash=hasher.hash(token)))
    return token


async def has_live_link(*, session: AsyncSession, invoice_id: uuid.UUID) -> bool:
    live = exists().where(InvoiceLink.invoice_id == invoice_id, InvoiceLink.revoked_at.is_(None))
    return bool(await session.scalar(select(live)))


async def revoke_links(
    *, session: AsyncSession, context: OrgContext, invoice_id: uuid.UUID, now: datetime
) -> int:
    """End every live link of the invoice (404 if there is no such invoice); how many ended.

    Ending links is a change of the invoice (its version moves), so that sending it again
    emails a new link rather than finding the email of the version whose links just ended.
    """
    invoice = await get_invoice(session=session, invoice_id=invoice_id, with_lines=False, for_update=True)
    revoked = await session.execute(
        update(InvoiceLink)
        .where(InvoiceLink.invoice_id == invoice_id, InvoiceLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(InvoiceLink.id)
        .execution_options(synchronize_session=False)
    )
    count = len(revoked.all())
    if count:
        invoice.updated_at = now
        await flush_versioned(session)
        audit.record(
            session,
            context,
            action="invoice.links_revoked",
            target_type="invoice",
            target_id=invoice_id,
            changes={"links": count},
        )
    return count


async def open_link(
    *, session: AsyncSession, hasher: LinkTokenHasher, token: str, now: datetime
) -> HostedInvoice:
    """The invoice behind a live link; 404 for anything else (malformed, unknown, revoked)."""
    if not looks_like_link_token(token):
        raise NotFoundError(NO_SUCH_LINK)
    token_hash = hasher.hash(token)
    await bind_credential(session, token_hash)
    link = await session.scalar(
        select(InvoiceLink).where(InvoiceLink.token_hash == token_hash, InvoiceLink.revoked_at.is_(None))
    )
    if link is None:
        raise NotFoundError(NO_SUCH_LINK)
    await bind_organization(session, link.org_id)
    organization = await session.scalar(
        select(Organization.name).where(Organization.id == link.org_id, Organization.deleted_at.is_(None))
    )
    if organization is None:
        raise NotFoundError(NO_SUCH_LINK)
    invoice = await get_invoice(session=session, invoice_id=link.invoice_id)
    customer = await session.get(Customer, invoice.customer_id)
    if customer is None or invoice.status == InvoiceStatus.DRAFT:  # neither can happen: still a 404
        raise NotFoundError(NO_SUCH_LINK)
    if link.last_viewed_at is None or now - link.last_viewed_at >= VIEW_RESOLUTION:
        await session.execute(
            update(InvoiceLink)
            .where(
                InvoiceLink.id == link.id,
                (InvoiceLink.last_viewed_at.is_(None))
                | (InvoiceLink.last_viewed_at <= now - VIEW_RESOLUTION),
            )
            .values(last_viewed_at=now)
            .execution_options(synchronize_session=False)
        )
    return HostedInvoice(link_id=link.id, invoice=invoice, customer=customer, organization=organization)
