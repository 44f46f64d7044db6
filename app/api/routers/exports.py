"""/api/v1/orgs/{org_id}/invoices/export: every invoice the list's filters select, streamed.

Mounted before the invoices router, so that `/invoices/export` is not read as an invoice id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.api.contract import Declares, declare, sets_headers
from app.api.dependencies.core import ServicesDep
from app.api.dependencies.invoice_filters import InvoiceFiltersDep, InvoiceSortDep
from app.api.dependencies.rate_limit import caller_key, enforce, rate_limit_headers
from app.api.dependencies.tenancy import RequirePermission
from app.api.streaming import ClosingStreamingResponse
from app.core.errors import RateLimitedError
from app.core.permissions import Permission
from app.models.base import utc_today
from app.services import invoice_exports
from app.services.invoice_exports import ExportFormat
from app.services.organizations import OrgContext

router = APIRouter(prefix="/orgs/{org_id}/invoices", tags=["exports"])

Exporter = Annotated[OrgContext, Depends(RequirePermission(Permission.EXPORTS_READ))]


async def limit_exports(request: Request, response: Response, context: Exporter) -> OrgContext:
    """RATE_LIMIT_EXPORTS, per caller in each organization: an export reads every row."""
    key = f"{caller_key(context.principal)}:org:{context.org_id}"
    await enforce(request, response, policy_name="exports", key=key)
    return context


declare(
    limit_exports,
    Declares(problems=(RateLimitedError,), success_headers=("RateLimit", "RateLimit-Policy")),
)
LimitedExporter = Annotated[OrgContext, Depends(limit_exports)]

_BODY = {"schema": {"type": "string"}}


@router.get(
    "/export",
    summary="Export invoices (CSV or NDJSON)",
    description="Every invoice the list's filters select, in the list's order, as one download: "
    "`format=csv` (RFC 4180, a header row; `metadata` as JSON; a cell beginning with `=`, `+`, "
    "`-`, `@`, a tab or a carriage return gets a leading `'`, so that no spreadsheet runs it "
    "as a formula) or `format=ndjson` (one list item per line). Streamed from the database "
    "as it is read, however many rows; rate limited by RATE_LIMIT_EXPORTS.",
    response_class=ClosingStreamingResponse,
    responses={
        200: {"content": {"text/csv": _BODY, "application/x-ndjson": _BODY}},
        **sets_headers(200, "Content-Disposition"),
    },
)
async def export_invoices(
    request: Request,
    context: LimitedExporter,
    services: ServicesDep,
    filters: InvoiceFiltersDep,
    sort: InvoiceSortDep,
    export_format: Annotated[ExportFormat, Query(alias="format", description="`csv` or `ndjson`.")] = (
        ExportFormat.CSV
    ),
) -> ClosingStreamingResponse:
    today = utc_today()
    database, batch_rows = services.database, services.settings.export_batch_rows

    async def body() -> AsyncIterator[bytes]:
        # The request's session commits before the first byte is sent: the stream reads
        # through a session of its own, bound to the organization, released when it ends.
        async with database.tenant_reader(context.org_id) as session:
            async for chunk in invoice_exports.export_invoices(
                session=session,
                filters=filters,
                sort=sort,
                export_format=export_format,
                today=today,
                batch_rows=batch_rows,
            ):
                yield chunk

    filename = f"invoices-{today.isoformat()}.{export_format.value}"
    return ClosingStreamingResponse(
        body(),
        deadline=services.settings.export_max_seconds,
        media_type=export_format.media_type,
        headers={**rate_limit_headers(request), "Content-Disposition": f'attachment; filename="{filename}"'},
    )
