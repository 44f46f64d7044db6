"""/api/v1/orgs/{org_id}/reports: figures per currency, cached under the organization's version.

A report is served from the cache (app/core/cache.py) until its TTL or the next change of
the figures, whichever is first; the response carries a strong `ETag` (a hash of the body)
and `Cache-Control: private, max-age`, and `If-None-Match` gets 304.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.api.contract import problems, sets_headers
from app.api.dependencies.conditional import not_modified
from app.api.dependencies.core import ServicesDep, SessionDep
from app.api.dependencies.rate_limit import rate_limit_headers
from app.api.dependencies.tenancy import RequirePermission
from app.core.errors import InvalidInputError
from app.core.permissions import Permission
from app.models.base import utc_today
from app.schemas.invoices import InvoiceDate
from app.schemas.reports import AgingReport, CurrencyAgingOut, CurrencySummaryOut, SummaryReport
from app.services import reports
from app.services.organizations import OrgContext
from app.services.reports import ReportPeriod
from app.wiring import AppServices

router = APIRouter(prefix="/orgs/{org_id}/reports", tags=["reports"])

ReportReader = Annotated[OrgContext, Depends(RequirePermission(Permission.REPORTS_READ))]
CurrencyQuery = Annotated[str | None, Query(pattern="^[A-Z]{3}$", description="Only this ISO 4217 currency.")]
_CONDITIONAL = {**sets_headers(200, "ETag"), 304: {"description": "Not modified."}}


async def _cached(
    request: Request,
    services: AppServices,
    context: OrgContext,
    name: str,
    compute: Callable[[], Awaitable[bytes]],
) -> Response:
    body, _hit = await services.report_cache.get_or_compute(context.org_id, name, compute)
    headers = {
        **rate_limit_headers(request),
        "ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        "Cache-Control": f"private, max-age={services.settings.report_max_age_seconds}",
    }
    if not_modified(request, headers["ETag"]):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


@router.get(
    "/summary",
    response_model=SummaryReport,
    summary="Invoiced, paid, outstanding and overdue, per currency",
    description="Finalized invoices that were not voided, issued from `from` to `to` "
    "(inclusive; both optional), per currency: counts and exact amounts, and a series by month "
    "of issue. Amounts of different currencies are never added together. Cached for "
    "REPORT_CACHE_TTL_SECONDS at most; a finalization, void or payment shows at once.",
    responses={**problems(InvalidInputError), **_CONDITIONAL},
)
async def report_summary(
    request: Request,
    context: ReportReader,
    session: SessionDep,
    services: ServicesDep,
    issued_from: Annotated[InvoiceDate | None, Query(alias="from", description="Issued on or after.")] = None,
    issued_to: Annotated[InvoiceDate | None, Query(alias="to", description="Issued on or before.")] = None,
    currency: CurrencyQuery = None,
) -> Response:
    if issued_from is not None and issued_to is not None and issued_from > issued_to:
        raise InvalidInputError(["query", "to"], "must not be before from", "range_reversed")
    today = utc_today()
    period = ReportPeriod(issued_from=issued_from, issued_to=issued_to, currency=currency)

    async def compute() -> bytes:
        found = await reports.summary_report(session=session, period=period, today=today)
        report = SummaryReport(
            issued_from=issued_from,
            issued_to=issued_to,
            as_of=today,
            currencies=[CurrencySummaryOut.of(summary) for summary in found],
        )
        return report.model_dump_json().encode()

    return await _cached(request, services, context, f"summary:{today}:{period.key()}", compute)


@router.get(
    "/aging",
    response_model=AgingReport,
    summary="What is due, by days past due, per currency",
    description="Every open invoice's amount due, per currency, in buckets of days past its due "
    "date (UTC): `current` (not yet due), `1-30`, `31-60`, `61-90`, `90+`. Cached as the summary is.",
    responses=_CONDITIONAL,
)
async def report_aging(
    request: Request,
    context: ReportReader,
    session: SessionDep,
    services: ServicesDep,
    currency: CurrencyQuery = None,
) -> Response:
    today = utc_today()

    async def compute() -> bytes:
        found = await reports.aging_report(session=session, currency=currency, today=today)
        report = AgingReport(as_of=today, currencies=[CurrencyAgingOut.of(aging) for aging in found])
        return report.model_dump_json().encode()

    return await _cached(request, services, context, f"aging:{today}:{currency or ''}", compute)
