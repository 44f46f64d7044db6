"""/api/v1/orgs/{org_id}/invoices/{invoice_id}/payments: money received against an invoice."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.api.contract import problems, response_header
from app.api.dependencies.core import SessionDep
from app.api.dependencies.idempotency import IdempotencyRequired, IdempotentRoute
from app.api.dependencies.pagination import CursorParamsDep
from app.api.dependencies.tenancy import RequirePermission
from app.core.errors import InvalidInputError, InvoiceNotOpenError, NotFoundError
from app.core.permissions import Permission
from app.models.base import utc_today
from app.schemas.common import CursorPage
from app.schemas.payments import PaymentCreate, PaymentPublic
from app.services import payments
from app.services.organizations import OrgContext

router = APIRouter(
    prefix="/orgs/{org_id}/invoices/{invoice_id}/payments", tags=["payments"], route_class=IdempotentRoute
)

PaymentReader = Annotated[OrgContext, Depends(RequirePermission(Permission.INVOICES_READ))]
PaymentWriter = Annotated[OrgContext, Depends(RequirePermission(Permission.PAYMENTS_WRITE))]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Record a payment",
    description="Money received against an open invoice: more than zero, at most the amount due, "
    "in the invoice's currency and its minor units. The payment that leaves nothing due marks "
    "the invoice `paid`. Requires an `Idempotency-Key`: a retry with the same key and body "
    "gets the first answer again, never a second payment.",
    responses=problems(NotFoundError, InvoiceNotOpenError, InvalidInputError),
)
async def create_payment(
    invoice_id: uuid.UUID,
    body: PaymentCreate,
    context: PaymentWriter,
    session: SessionDep,
    _idempotent: IdempotencyRequired,
) -> PaymentPublic:
    payment, _ = await payments.create_payment(
        session=session, context=context, invoice_id=invoice_id, data=body, today=utc_today()
    )
    return PaymentPublic.from_model(payment)


@router.get(
    "",
    summary="An invoice's payments",
    description="In the order they were recorded, with keyset pagination (`next_cursor`, `Link`).",
    responses={
        **problems(NotFoundError),
        200: {"headers": {"Link": response_header("Link", required=False)}},
    },
)
async def list_payments(
    invoice_id: uuid.UUID, context: PaymentReader, session: SessionDep, page: CursorParamsDep
) -> CursorPage[PaymentPublic]:
    binding = f"payments:{context.org_id}:{invoice_id}"
    found = await payments.list_payments(
        session=session, invoice_id=invoice_id, after=page.position(binding=binding), limit=page.limit
    )
    last = found.items[-1].id if found.has_more and found.items else None
    return CursorPage[PaymentPublic](
        items=[PaymentPublic.from_model(payment) for payment in found.items],
        next_cursor=page.next_cursor(last, binding=binding),
    )
