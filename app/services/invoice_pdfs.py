"""Invoice PDFs: which invoice may have one, its tag, and rendering it off the event loop, once.

- **Finalized only.** A draft has no number and may still change: 409 `invoice_not_finalized`.
- **The tag** names everything the page shows: the invoice's version, the customer's version
  (the page shows the customer as it is now), a digest of the organization's name, the locale
  and the layout's revision. A payment, a void or a renamed customer is a new tag, hence a new
  PDF; anything else is the same tag, and `If-None-Match` gets 304 without a render.
- **Off the event loop.** fpdf2 is CPU-bound Python: a render runs in a worker thread
  (`anyio.to_thread.run_sync`) under a `CapacityLimiter`, so a burst of requests waits for a
  few threads instead of taking one each, and the loop keeps serving meanwhile.
- **Cached by tag.** The bytes are kept in a `ByteCache` under the invoice's id and its tag: a
  changed invoice has a new key, so nothing is ever invalidated, only pushed out. The cache is
  an interface (app/core/byte_cache.py), in process memory today.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.byte_cache import ByteCache, LruByteCache
from app.core.config import Settings
from app.core.errors import InvoiceNotFinalizedError, NotFoundError
from app.models import Customer, Invoice, InvoiceStatus
from app.services.invoice_pdf import LAYOUT_REVISION, InvoiceDocument, render_invoice_pdf
from app.services.invoices import get_invoice
from app.services.organizations import OrgContext

Renderer = Callable[[InvoiceDocument, str], bytes]


def _render(document: InvoiceDocument, locale: str) -> bytes:
    return render_invoice_pdf(document, locale=locale)


@dataclass(frozen=True, slots=True)
class PdfSource:
    """What a PDF is made from, with its tag: enough to answer 304 before rendering anything."""

    invoice_id: uuid.UUID
    document: InvoiceDocument
    etag: str

    @property
    def filename(self) -> str:
        return f"{self.document.number}.pdf"


class InvoicePdfs:
    """Renders invoice PDFs in worker threads, a few at a time, and keeps them by tag.

    `render` is the one place a PDF is made: a test may wrap it to count renders.
    """

    def __init__(self, *, locale: str, cache: ByteCache, max_concurrent: int) -> None:
        self.locale = locale
        self.cache = cache
        self.render: Renderer = _render
        self._limiter = anyio.CapacityLimiter(max_concurrent)

    @classmethod
    def from_settings(cls, settings: Settings) -> InvoicePdfs:
        size = settings.invoice_pdf_cache_bytes
        return cls(
            locale=settings.invoice_pdf_locale,
            # One document may take at most a quarter of the cache.
            cache=LruByteCache(max_bytes=size, max_entry_bytes=size // 4),
            max_concurrent=settings.invoice_pdf_max_concurrent_renders,
        )

    def tag(self, *, invoice_version: int, customer_version: int, organization: str) -> str:
        digest = hashlib.sha256(f"{organization}\0{self.locale}\0{LAYOUT_REVISION}".encode()).hexdigest()
        return f'"pdf-{invoice_version}.{customer_version}.{digest[:12]}"'

    async def pdf(self, source: PdfSource) -> bytes:
        """The PDF's bytes: from the cache, or rendered in a worker thread and then kept."""
        key = f"invoice-pdf:{source.invoice_id}:{source.etag}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        content = await anyio.to_thread.run_sync(
            self.render, source.document, self.locale, limiter=self._limiter
        )
        self.cache.put(key, content)
        return content


async def pdf_source(
    *, session: AsyncSession, context: OrgContext, pdfs: InvoicePdfs, invoice_id: uuid.UUID
) -> PdfSource:
    """The finalized invoice's document and tag; 404 if absent, 409 if it is a draft."""
    invoice = await get_invoice(session=session, invoice_id=invoice_id)
    if invoice.status == InvoiceStatus.DRAFT:
        raise InvoiceNotFinalizedError(
            "Only a finalized invoice has a PDF: finalize it first.", invoice_status=invoice.status.value
        )
    customer = await session.get(Customer, invoice.customer_id)
    if customer is None:  # the foreign key forbids it; a 404 rather than a 500 all the same
        raise NotFoundError("No such invoice.")
    return source_of(pdfs, invoice, customer, organization=context.organization.name)


def source_of(pdfs: InvoicePdfs, invoice: Invoice, customer: Customer, *, organization: str) -> PdfSource:
    """A finalized invoice's document and tag, from rows already read (sending, the hosted page)."""
    return PdfSource(
        invoice_id=invoice.id,
        document=InvoiceDocument.from_models(invoice, customer, organization=organization),
        etag=pdfs.tag(
            invoice_version=invoice.version, customer_version=customer.version, organization=organization
        ),
    )
