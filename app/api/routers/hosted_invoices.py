"""The public, read-only page of an invoice that an emailed link opens: `/i/{token}`, and its
PDF at `/i/{token}/pdf` (app/services/invoice_links.py).

No sign-in: the token in the URL is the credential, so the page guards it as the other pages
emailed links open do (app/api/routers/pages.py), and more strictly: never cached
(`no-store`), no Referer sent to anywhere it links, never indexed (`X-Robots-Tag` and the
robots meta tag), not framed, no scripts and no forms (CSP). Every value shown is escaped.
Requests are rate-limited per client network (RATE_LIMIT_HOSTED_INVOICE). A malformed,
unknown or revoked token is the same 404 page, so a token reveals nothing but whether it is
live. A void invoice is shown, marked void, with nothing due; a draft has no link.

Hidden from the OpenAPI document: pages for people, not API operations.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response

from app.api.content_security import HOSTED_INVOICE_PAGE
from app.api.dependencies.core import ServicesDep, SessionDep, SettingsDep
from app.api.dependencies.rate_limit import RateLimit
from app.api.html import PAGE_HEADERS, Markup, join, page, render
from app.api.routers.pages import PageRoute, RefusalPageError, app_path
from app.core.config import Settings
from app.core.errors import NotFoundError
from app.models.base import utcnow
from app.services import invoice_links
from app.services.invoice_links import HostedInvoice
from app.services.invoice_pdf import InvoiceDocument
from app.services.invoice_pdfs import source_of

HOSTED_INVOICE_PATH = "/i/{token}"
HOSTED_INVOICE_PDF_PATH = "/i/{token}/pdf"
# The token travels in the URL: no cache keeps it, no Referer carries it, no index lists it.
HOSTED_HEADERS = {**PAGE_HEADERS, "X-Robots-Tag": "noindex, nofollow"}

router = APIRouter(
    include_in_schema=False, route_class=PageRoute, dependencies=[Depends(RateLimit("hosted_invoice"))]
)

_PAGE = """<div class="invoice">
<p>From <strong>$organization</strong> to <strong>$customer</strong></p>
<p><span class="status status-$status">$status</span></p>
<dl>
<dt>Issued</dt><dd>$issued</dd>
<dt>Due</dt><dd>$due</dd>
<dt>Amount due</dt><dd><strong>$amount_due</strong></dd>
</dl>
$address
<table>
<thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Unit price</th>
<th class="num">Tax</th><th class="num">Amount</th></tr></thead>
<tbody>
$lines
</tbody>
</table>
<table>
<tbody>
<tr><td>Subtotal</td><td class="num">$subtotal</td></tr>
<tr><td>Tax</td><td class="num">$tax_total</td></tr>
<tr><td><strong>Total</strong></td><td class="num"><strong>$total</strong></td></tr>
<tr><td>Paid</td><td class="num">$amount_paid</td></tr>
<tr><td><strong>Amount due</strong></td><td class="num"><strong>$amount_due</strong></td></tr>
</tbody>
</table>
$memo
<p><a href="$pdf">Download the PDF</a></p>
</div>"""
_LINE = (
    '<tr><td>$description</td><td class="num">$quantity</td><td class="num">$unit_price</td>'
    '<td class="num">$tax_rate</td><td class="num">$line_total</td></tr>'
)


def _not_found(settings: Settings) -> RefusalPageError:
    content = render(
        "<p>$message</p>",
        message="This invoice link does not work: it may have been revoked, or mistyped. "
        "Ask the organization that sent it for a new one.",
    )
    return RefusalPageError(
        page(
            app_name=settings.app_name,
            title="Invoice not found",
            content=content,
            status_code=404,
            headers=HOSTED_HEADERS,
            policy=HOSTED_INVOICE_PAGE,
        )
    )


async def _open(session: SessionDep, services: ServicesDep, token: str) -> HostedInvoice:
    try:
        return await invoice_links.open_link(
            session=session, hasher=services.invoice_link_hasher, token=token, now=utcnow()
        )
    except NotFoundError as error:
        raise _not_found(services.settings) from error


class _Formats:
    def __init__(self, document: InvoiceDocument, locale: str) -> None:
        self.currency, self.locale = document.currency, locale

    def money(self, amount: Decimal) -> str:
        return format_currency(amount, self.currency, locale=self.locale)

    def price(self, amount: Decimal) -> str:
        return format_currency(amount, self.currency, locale=self.locale, decimal_quantization=False)

    def number(self, value: Decimal) -> str:
        return format_decimal(value, locale=self.locale, decimal_quantization=False)

    def rate(self, value: Decimal) -> str:
        return format_percent(value, locale=self.locale, decimal_quantization=False)

    def day(self, value: date) -> str:
        return format_date(value, format="long", locale=self.locale)


def _content(document: InvoiceDocument, *, locale: str, pdf: str) -> Markup:
    formats = _Formats(document, locale)
    lines = join(
        *(
            render(
                _LINE,
                description=line.description,
                quantity=formats.number(line.quantity),
                unit_price=formats.price(line.unit_price),
                tax_rate=formats.rate(line.tax_rate),
                line_total=formats.money(line.line_total),
            )
            for line in document.lines
        )
    )
    address = document.customer.address_lines
    memo = document.memo
    return render(
        _PAGE,
        organization=document.organization,
        customer=document.customer.name,
        status=document.status,
        issued=formats.day(document.issue_date),
        due=formats.day(document.due_date),
        amount_due=formats.money(document.amount_due if document.status != "void" else Decimal(0)),
        address=render('<p class="hint">$lines</p>', lines=", ".join(address)) if address else Markup(),
        lines=lines,
        subtotal=formats.money(document.subtotal),
        tax_total=formats.money(document.tax_total),
        total=formats.money(document.total),
        amount_paid=formats.money(document.amount_paid),
        memo=render("<p>$memo</p>", memo=memo) if memo else Markup(),
        pdf=pdf,
    )


@router.get(HOSTED_INVOICE_PATH)
async def hosted_invoice(
    token: str, request: Request, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    hosted = await _open(session, services, token)
    document = InvoiceDocument.from_models(hosted.invoice, hosted.customer, organization=hosted.organization)
    settings = services.settings
    return page(
        app_name=settings.app_name,
        title=f"Invoice {document.number}",
        content=_content(
            document, locale=settings.invoice_pdf_locale, pdf=app_path(request, f"/i/{token}/pdf")
        ),
        headers=HOSTED_HEADERS,
        policy=HOSTED_INVOICE_PAGE,
    )


@router.get(HOSTED_INVOICE_PDF_PATH)
async def hosted_invoice_pdf(
    token: str, session: SessionDep, services: ServicesDep, settings: SettingsDep
) -> Response:
    hosted = await _open(session, services, token)
    pdfs = services.invoice_pdfs
    source = source_of(pdfs, hosted.invoice, hosted.customer, organization=hosted.organization)
    # As the API's PDF route: the read (and the view's mark) commits before the render.
    await session.commit()
    content = await pdfs.pdf(source)
    headers = {
        **HOSTED_HEADERS,
        "Content-Disposition": f'inline; filename="{source.filename}"',
        "X-Content-Type-Options": "nosniff",
    }
    return Response(content=content, media_type="application/pdf", headers=headers)
