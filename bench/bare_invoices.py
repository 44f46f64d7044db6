"""The floor of the invoice list and of a draft's creation: bare FastAPI routes on asyncpg.

    BARE_DATABASE_URL=postgresql://owner@127.0.0.1:5432/db PORT=8001 uv run python bench/bare_invoices.py

What `GET /api/v1/orgs/{org_id}/invoices?limit=50` and `POST /api/v1/orgs/{org_id}/invoices`
would cost with nothing around them: no middleware, no authentication, no session, no tenant
seam, no row-level security (it connects as the tables' owner), no rate limits, no ORM.

- GET: the same SELECT of the summary columns the app runs (newest first, `created_at DESC,
  id DESC`, one extra row to tell whether a next page exists), the organization as a plain
  WHERE clause, returned through a response model shaped like the summary (amounts as
  strings, `overdue` and `created_by` worked out per row as the app does).
- POST: the same body model as the app (`InvoiceCreate`), the same totals
  (app/core/money.py), then in one transaction the rows the app writes: the invoice, its line
  items, an event (the invoice as answered) and an audit entry. `X-Actor` names the user
  credited with them (there is no authentication here).

An asyncpg pool of DB_POOL_SIZE connections; uvicorn, 1 worker, on loopback;
bench/invoices.py starts and stops it.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
import uvicorn
from fastapi import FastAPI, Header, Query, Request, Response, status
from pydantic import BaseModel, BeforeValidator

from app.core.money import invoice_totals, line_amounts, plain_text, quantize
from app.models.base import new_id
from app.schemas.invoices import InvoiceCreate
from bench.bare_pool import pool_lifespan

_SELECT = """
SELECT id, number, status, customer_id, currency, issue_date, due_date, memo, metadata,
       subtotal, tax_total, total, amount_paid, created_by_user_id, created_by_api_key_id,
       finalized_at, voided_at, paid_at, created_at, updated_at
FROM invoices
WHERE org_id = $1
ORDER BY created_at DESC, id DESC
LIMIT $2
"""

_INSERT_INVOICE = """
INSERT INTO invoices (id, org_id, customer_id, status, number, currency, issue_date, due_date, memo,
                      metadata, subtotal, tax_total, total, amount_paid, created_by_user_id,
                      version, created_at, updated_at)
VALUES ($1, $2, $3, 'draft', NULL, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14)
"""
_INSERT_LINE = """
INSERT INTO invoice_line_items (id, org_id, invoice_id, position, description, quantity, unit_price,
                                tax_rate, line_total, tax_amount)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
_INSERT_EVENT = """
INSERT INTO events (id, org_id, type, occurred_at, data, request_id, actor_type, actor_id)
VALUES ($1, $2, 'invoice.created', $3, $4, NULL, 'user', $5)
"""
_INSERT_AUDIT = """
INSERT INTO audit_log (id, org_id, actor_type, actor_id, action, target_type, target_id, request_id,
                       client_ip, changes, created_at)
VALUES ($1, $2, 'user', $3, 'invoice.created', 'invoice', $4, NULL, '127.0.0.1', $5, $6)
"""


def _amount_text(value: object) -> object:
    return plain_text(value) if isinstance(value, Decimal) else value


Amount = Annotated[str, BeforeValidator(_amount_text)]


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Creator(BaseModel):
    type: Literal["user", "api_key"]
    id: uuid.UUID


class Summary(BaseModel):
    """Shaped like the app's `InvoiceSummary`: the same fields, amounts and times as strings."""

    id: uuid.UUID
    number: str | None
    status: str
    customer_id: uuid.UUID
    currency: str
    issue_date: date
    due_date: date
    memo: str | None
    metadata: dict[str, str]
    subtotal: Amount
    tax_total: Amount
    total: Amount
    amount_paid: Amount
    amount_due: Amount
    overdue: bool
    created_by: Creator | None
    finalized_at: str | None
    voided_at: str | None
    paid_at: str | None
    created_at: str
    updated_at: str


class Page(BaseModel):
    items: list[Summary]
    next_cursor: str | None


def _summary(row: asyncpg.Record, today: date) -> dict[str, Any]:
    fields = dict(row)
    user, key = fields.pop("created_by_user_id"), fields.pop("created_by_api_key_id")
    fields["created_by"] = (
        {"type": "user", "id": user} if user else {"type": "api_key", "id": key} if key else None
    )
    fields["amount_due"] = fields["total"] - fields["amount_paid"]
    fields["overdue"] = fields["status"] == "open" and fields["due_date"] < today
    for name in ("finalized_at", "voided_at", "paid_at", "created_at", "updated_at"):
        fields[name] = _rfc3339(fields[name])
    return fields


app = FastAPI(lifespan=pool_lifespan, openapi_url=None)


@app.get("/orgs/{org_id}/invoices", response_model=Page)
async def list_invoices(
    org_id: uuid.UUID, request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> Any:
    rows = await request.app.state.pool.fetch(_SELECT, org_id, limit + 1)
    today = datetime.now(UTC).date()
    return {"items": [_summary(row, today) for row in rows[:limit]], "next_cursor": None}


@app.post("/orgs/{org_id}/invoices", status_code=status.HTTP_201_CREATED)
async def create_invoice(
    org_id: uuid.UUID, body: InvoiceCreate, x_actor: Annotated[uuid.UUID, Header()]
) -> Response:
    currency = body.currency
    invoice_id, now = new_id(), datetime.now(UTC)
    lines: list[
        tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, str, Decimal, Decimal, Decimal, Decimal, Decimal]
    ] = []
    for position, line in enumerate(body.line_items):
        line_total, tax_amount = line_amounts(line.quantity, line.unit_price, line.tax_rate, currency)
        lines.append(
            (new_id(), org_id, invoice_id, position, line.description, line.quantity, line.unit_price,
             line.tax_rate, line_total, tax_amount)
        )  # fmt: skip
    subtotal, tax_total, total = invoice_totals(body.line_items, currency)
    amount_paid = quantize(Decimal(0), currency)
    stamp = _rfc3339(now)
    data = {
        "id": str(invoice_id),
        "number": None,
        "status": "draft",
        "customer_id": str(body.customer_id),
        "currency": currency,
        "issue_date": body.issue_date.isoformat(),
        "due_date": body.due_date.isoformat(),
        "memo": body.memo,
        "metadata": body.metadata,
        "subtotal": plain_text(subtotal),
        "tax_total": plain_text(tax_total),
        "total": plain_text(total),
        "amount_paid": plain_text(amount_paid),
        "amount_due": plain_text(total - amount_paid),
        "overdue": False,
        "created_by": {"type": "user", "id": str(x_actor)},
        "finalized_at": None,
        "voided_at": None,
        "paid_at": None,
        "created_at": stamp,
        "updated_at": stamp,
        "line_items": [
            {
                "description": row[4],
                **{name: plain_text(amount) for name, amount in zip(_LINE_AMOUNTS, row[5:], strict=True)},
            }
            for row in lines
        ],
    }
    async with app.state.pool.acquire() as connection, connection.transaction():
        await connection.execute(
            _INSERT_INVOICE, invoice_id, org_id, body.customer_id, currency, body.issue_date, body.due_date,
            body.memo, body.metadata, subtotal, tax_total, total, amount_paid, x_actor, now,
        )  # fmt: skip
        await connection.executemany(_INSERT_LINE, lines)
        await connection.execute(_INSERT_EVENT, new_id(), org_id, now, data, x_actor)
        changes = {"currency": currency, "total": plain_text(total)}
        await connection.execute(_INSERT_AUDIT, new_id(), org_id, x_actor, str(invoice_id), changes, now)
    return Response(json.dumps(data), status_code=201, media_type="application/json")


_LINE_AMOUNTS = ("quantity", "unit_price", "tax_rate", "line_total", "tax_amount")


@app.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "pass"}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        workers=1,
        access_log=False,
        log_level="warning",
        server_header=False,
    )
