"""Invoice exports: every invoice the list's filters select, as CSV or NDJSON, streamed.

Rows come from a server-side cursor (`AsyncSession.stream_scalars` with `yield_per`), a batch
at a time, and each batch is written out before the next is fetched, so memory stays flat
whatever the number of rows (bench/exports.py). The caller owns the session and its
transaction, held for the whole stream (app/api/streaming.py).

An NDJSON line is exactly an item of the list (`InvoiceSummary`). A CSV row has the same
fields, `metadata` as JSON and `created_by` as two columns.

CSV injection: a spreadsheet reads a cell that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return as a formula. Any such cell gets a leading `'` (OWASP's advice), which
spreadsheets show as text. Amounts are never negative, so no number is changed; a memo or an
invoice number that begins with `-` is (the `'` is then part of the cell for other readers).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from datetime import date
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Invoice
from app.schemas.invoices import InvoiceSort, InvoiceSummary
from app.services.invoice_lists import InvoiceFilters, ordered_invoices


class ExportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is ExportFormat.CSV else "application/x-ndjson"


CSV_COLUMNS = (
    "id",
    "number",
    "status",
    "customer_id",
    "currency",
    "issue_date",
    "due_date",
    "memo",
    "metadata",
    "subtotal",
    "tax_total",
    "total",
    "amount_paid",
    "amount_due",
    "overdue",
    "created_by_type",
    "created_by_id",
    "finalized_at",
    "voided_at",
    "paid_at",
    "sent_at",
    "sent_to",
    "created_at",
    "updated_at",
)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would not evaluate: `'` before a formula's first character."""
    return f"'{cell}" if cell.startswith(FORMULA_TRIGGERS) else cell


async def stream_invoices(
    *, session: AsyncSession, filters: InvoiceFilters, sort: InvoiceSort, today: date, batch_rows: int
) -> AsyncIterator[list[Invoice]]:
    """The selected invoices in the list's order, `batch_rows` at a time, from a server-side cursor."""
    statement = ordered_invoices(filters=filters, sort=sort, today=today).execution_options(
        yield_per=batch_rows
    )
    result = await session.stream_scalars(statement)
    try:
        async for batch in result.partitions():
            yield list(batch)
    finally:
        await result.close()


def _csv_cells(summary: InvoiceSummary) -> list[str]:
    data = summary.model_dump(mode="json")
    creator = data.pop("created_by") or {}
    data["metadata"] = json.dumps(data["metadata"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    data["overdue"] = "true" if data["overdue"] else "false"
    data["created_by_type"], data["created_by_id"] = creator.get("type"), creator.get("id")
    return [neutralise("" if data[column] is None else str(data[column])) for column in CSV_COLUMNS]


def csv_header() -> str:
    return _csv_text([list(CSV_COLUMNS)])


def _csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerows(rows)
    return buffer.getvalue()


def render(batch: list[Invoice], export_format: ExportFormat, *, today: date) -> bytes:
    summaries = [InvoiceSummary.from_model(invoice, today=today) for invoice in batch]
    if export_format is ExportFormat.CSV:
        return _csv_text(_csv_cells(summary) for summary in summaries).encode()
    return b"".join(summary.model_dump_json().encode() + b"\n" for summary in summaries)


async def export_invoices(
    *,
    session: AsyncSession,
    filters: InvoiceFilters,
    sort: InvoiceSort,
    export_format: ExportFormat,
    today: date,
    batch_rows: int,
) -> AsyncIterator[bytes]:
    """The export's body, a batch of rows per chunk (CSV: the header first)."""
    if export_format is ExportFormat.CSV:
        yield csv_header().encode()
    async for batch in stream_invoices(
        session=session, filters=filters, sort=sort, today=today, batch_rows=batch_rows
    ):
        yield render(batch, export_format, today=today)
