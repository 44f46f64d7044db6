"""/api/v1/orgs/{org_id}/invoices: drafts, finalizing, voiding, the list, and the PDF."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.api.contract import problems, response_header, sets_headers
from app.api.dependencies.conditional import IfMatchDep, OptionalIfMatchDep, not_modified
from app.api.dependencies.core import ServicesDep, SessionDep, StorageDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.invoice_filters import InvoiceFiltersDep, InvoiceSortDep
from app.api.dependencies.pagination import CursorParamsDep
from app.api.dependencies.tenancy import RequirePermission
from app.core.errors import (
    InvalidInputError,
    InvoiceNotDraftError,
    InvoiceNotFinalizedError,
    InvoiceNotVoidableError,
    NotFoundError,
    NotInvoiceCreatorError,
)
from app.core.permissions import Permission
from app.models import Invoice
from app.models.base import utc_today
from app.schemas.common import CursorPage
from app.schemas.invoices import (
    InvoiceCreate,
    InvoicePublic,
    InvoiceSummary,
    InvoiceUpdate,
)
from app.services import invoice_lists, invoice_pdfs, invoices
from app.services.invoices import invoice_tag
from app.services.organizations import OrgContext

router = APIRouter(prefix="/orgs/{org_id}/invoices", tags=["invoices"], route_class=IdempotentRoute)

InvoiceReader = Annotated[OrgContext, Depends(RequirePermission(Permission.INVOICES_READ))]
# Members hold `invoices:write_own`; the service narrows it to the drafts they created.
InvoiceWriter = Annotated[OrgContext, Depends(RequirePermission(Permission.INVOICES_WRITE_OWN))]
InvoiceFinalizer = Annotated[OrgContext, Depends(RequirePermission(Permission.INVOICES_FINALIZE))]
InvoiceVoider = Annotated[OrgContext, Depends(RequirePermission(Permission.INVOICES_VOID))]
InvoiceId = Annotated[uuid.UUID, "the invoice's id"]


def _full(response: Response, invoice: Invoice, *, on: date) -> InvoicePublic:
    response.headers["ETag"] = invoice_tag(invoice, today=on)
    return InvoicePublic.from_model(invoice, today=on)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft invoice",
    description="A customer of the organization, a currency, the issue and due dates and 1-100 "
    "line items; amounts, quantities and rates are decimal strings. The totals are computed: "
    "each line rounded half-up to the currency's minor units, then summed. The response "
    "carries the draft's `Location` and `ETag`.",
    responses={**problems(InvalidInputError), **sets_headers(201, "Location", "ETag")},
)
async def create_invoice(
    body: InvoiceCreate,
    response: Response,
    context: InvoiceWriter,
    session: SessionDep,
    _idempotent: Idempotent,
) -> InvoicePublic:
    on = utc_today()
    invoice = await invoices.create_invoice(session=session, context=context, data=body, today=on)
    response.headers["Location"] = f"/api/v1/orgs/{context.org_id}/invoices/{invoice.id}"
    return _full(response, invoice, on=on)


@router.get(
    "",
    summary="The organization's invoices",
    description="Summaries (no line items), filtered and sorted, with keyset pagination: follow "
    "`next_cursor` or the `Link` header. A cursor is good only with the same filters and sort. "
    "`status` may be repeated; `q` finds a part of the number, the memo or the customer's name.",
    responses={200: {"headers": {"Link": response_header("Link", required=False)}}},
)
async def list_invoices(
    context: InvoiceReader,
    session: SessionDep,
    page: CursorParamsDep,
    filters: InvoiceFiltersDep,
    sort: InvoiceSortDep,
) -> CursorPage[InvoiceSummary]:
    binding = f"invoices:{context.org_id}:{sort.value}:{filters.binding()}"
    on = utc_today()
    found = await invoice_lists.list_invoices(
        session=session,
        filters=filters,
        sort=sort,
        after=page.keyset(binding=binding, arity=2),
        limit=page.limit,
        today=on,
    )
    return CursorPage[InvoiceSummary](
        items=[InvoiceSummary.from_model(invoice, today=on) for invoice in found.items],
        next_cursor=page.next_keyset_cursor(found.next_position, binding=binding),
    )


@router.get(
    "/{invoice_id}",
    response_model=InvoicePublic,
    summary="Read one invoice",
    description="With its line items and `ETag`; send the tag back as `If-None-Match` to get 304 "
    "while it is unchanged, or as `If-Match` to change or delete a draft.",
    responses={**problems(NotFoundError), **sets_headers(200, "ETag"), 304: {"description": "Not modified."}},
)
async def get_invoice(
    invoice_id: uuid.UUID, request: Request, response: Response, context: InvoiceReader, session: SessionDep
) -> InvoicePublic | Response:
    invoice = await invoices.get_invoice(session=session, invoice_id=invoice_id)
    on = utc_today()
    etag = invoice_tag(invoice, today=on)
    if not_modified(request, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return _full(response, invoice, on=on)


@router.patch(
    "/{invoice_id}",
    summary="Change a draft",
    description="Only the fields sent change; null clears `memo`; `line_items`, when sent, replace "
    "all the lines and the totals are computed again. Drafts only (409 otherwise). Requires "
    "`If-Match` with the `ETag` you read.",
    responses={
        **problems(NotFoundError, InvoiceNotDraftError, NotInvoiceCreatorError, InvalidInputError),
        **sets_headers(200, "ETag"),
    },
)
async def update_invoice(
    invoice_id: uuid.UUID,
    body: InvoiceUpdate,
    if_match: IfMatchDep,
    response: Response,
    context: InvoiceWriter,
    session: SessionDep,
) -> InvoicePublic:
    on = utc_today()
    invoice = await invoices.update_invoice(
        session=session, context=context, invoice_id=invoice_id, changes=body, if_match=if_match, today=on
    )
    return _full(response, invoice, on=on)


@router.delete(
    "/{invoice_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft",
    description="Drafts only: a finalized invoice is voided, never deleted (409). Requires `If-Match`.",
    responses=problems(NotFoundError, InvoiceNotDraftError, NotInvoiceCreatorError),
)
async def delete_invoice(
    invoice_id: uuid.UUID,
    if_match: IfMatchDep,
    context: InvoiceWriter,
    session: SessionDep,
    storage: StorageDep,
) -> None:
    await invoices.delete_invoice(
        session=session,
        context=context,
        invoice_id=invoice_id,
        if_match=if_match,
        today=utc_today(),
        storage=storage,
    )


@router.post(
    "/{invoice_id}/finalize",
    summary="Finalize a draft",
    description="Assigns the organization's next number for the year (`INV-2026-000042`, gapless) "
    "and opens the invoice for payment; one whose total is zero is paid at once. Only a draft "
    "is finalized (409 `invoice_not_draft`).",
    responses={**problems(NotFoundError, InvoiceNotDraftError), **sets_headers(200, "ETag")},
)
async def finalize_invoice(
    invoice_id: uuid.UUID,
    if_match: OptionalIfMatchDep,
    response: Response,
    context: InvoiceFinalizer,
    session: SessionDep,
    _idempotent: Idempotent,
) -> InvoicePublic:
    on = utc_today()
    invoice = await invoices.finalize_invoice(
        session=session, context=context, invoice_id=invoice_id, if_match=if_match, today=on
    )
    return _full(response, invoice, on=on)


@router.post(
    "/{invoice_id}/void",
    summary="Void an invoice",
    description="A draft or an open invoice is voided: it keeps its number, and nothing more is "
    "due. A paid or already void invoice is not (409 `invoice_not_voidable`).",
    responses={**problems(NotFoundError, InvoiceNotVoidableError), **sets_headers(200, "ETag")},
)
async def void_invoice(
    invoice_id: uuid.UUID,
    if_match: OptionalIfMatchDep,
    response: Response,
    context: InvoiceVoider,
    session: SessionDep,
    _idempotent: Idempotent,
) -> InvoicePublic:
    on = utc_today()
    invoice = await invoices.void_invoice(
        session=session, context=context, invoice_id=invoice_id, if_match=if_match, today=on
    )
    return _full(response, invoice, on=on)


PDF_HEADERS = sets_headers(200, "ETag", "Content-Disposition")[200]["headers"]


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    summary="The invoice as a PDF",
    description="A finalized invoice (open, paid or void: a void one is marked VOID) as an A4 PDF: "
    "the organization, number, dates and status, the customer, the lines and the totals, amounts "
    "written for the server's locale in the invoice's currency. A draft has none (409 "
    "`invoice_not_finalized`). The `ETag` changes with the invoice (a payment, a void) and its "
    "customer; send it back as `If-None-Match` to get 304. A download (`attachment`) unless "
    "`disposition=inline`. `Cache-Control: private, no-cache`: only your own client keeps it, and "
    "asks again before reusing it.",
    responses={
        200: {
            "description": "The PDF.",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "headers": PDF_HEADERS,
        },
        304: {"description": "Not modified."},
        **problems(NotFoundError, InvoiceNotFinalizedError),
    },
)
async def get_invoice_pdf(
    invoice_id: uuid.UUID,
    request: Request,
    response: Response,
    context: InvoiceReader,
    session: SessionDep,
    services: ServicesDep,
    disposition: Annotated[
        Literal["attachment", "inline"],
        Query(description="`attachment` (a download, the default) or `inline` (shown in the browser)."),
    ] = "attachment",
) -> Response:
    pdfs = services.invoice_pdfs
    source = await invoice_pdfs.pdf_source(session=session, context=context, pdfs=pdfs, invoice_id=invoice_id)
    # A returned Response does not take the headers dependencies set (RateLimit...): copy them.
    headers = {**response.headers, "ETag": source.etag, "Cache-Control": "private, no-cache"}
    if not_modified(request, source.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    # The read is over: end its transaction now, so no pooled connection waits on the render
    # (which may queue behind others). Nothing was written; the request's commit finds nothing.
    await session.commit()
    content = await pdfs.pdf(source)
    headers["Content-Disposition"] = f'{disposition}; filename="{source.filename}"'
    headers["X-Content-Type-Options"] = "nosniff"
    return Response(content=content, media_type="application/pdf", headers=headers)
