"""The invoice list's filters as one dependency, shared by the list and the export, so the two
read the same query parameters the same way (and a new filter reaches both)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from app.api.contract import Declares, declare
from app.core.errors import InvalidInputError
from app.models import InvoiceStatus
from app.schemas.invoices import InvoiceDate, InvoiceSort
from app.services.invoice_lists import InvoiceFilters

DateQuery = InvoiceDate | None


async def invoice_filters(
    statuses: Annotated[
        list[InvoiceStatus] | None, Query(alias="status", max_length=4, description="Any of these statuses.")
    ] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="One customer's invoices.")] = None,
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$", description="An ISO 4217 code.")] = None,
    issued_from: Annotated[DateQuery, Query(description="Issued on or after this date.")] = None,
    issued_to: Annotated[DateQuery, Query(description="Issued on or before this date.")] = None,
    due_before: Annotated[DateQuery, Query(description="Due before this date.")] = None,
    overdue: Annotated[
        bool | None, Query(description="Only overdue invoices (true), or none of them (false).")
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Part of a number, memo or customer name."),
    ] = None,
) -> InvoiceFilters:
    if issued_from is not None and issued_to is not None and issued_from > issued_to:
        raise InvalidInputError(["query", "issued_to"], "must not be before issued_from", "range_reversed")
    return InvoiceFilters(
        statuses=frozenset(statuses or ()),
        customer_id=customer_id,
        currency=currency,
        issued_from=issued_from,
        issued_to=issued_to,
        due_before=due_before,
        overdue=overdue,
        query=q,
    )


async def invoice_sort(
    sort: Annotated[
        InvoiceSort, Query(description="A field, `-` first for descending.")
    ] = InvoiceSort.CREATED_AT_DESC,
) -> InvoiceSort:
    return sort


declare(invoice_filters, Declares(problems=(InvalidInputError,)))

InvoiceFiltersDep = Annotated[InvoiceFilters, Depends(invoice_filters)]
InvoiceSortDep = Annotated[InvoiceSort, Depends(invoice_sort)]
