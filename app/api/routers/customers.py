"""/api/v1/orgs/{org_id}/customers: who the organization invoices."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.api.contract import problems, response_header, sets_headers
from app.api.dependencies.conditional import IfMatchDep, not_modified
from app.api.dependencies.core import SessionDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.pagination import CursorParamsDep
from app.api.dependencies.tenancy import RequirePermission
from app.core.conditional import entity_tag
from app.core.errors import CustomerHasInvoicesError, NotFoundError
from app.core.permissions import Permission
from app.models import Customer
from app.schemas.common import CursorPage
from app.schemas.customers import CustomerCreate, CustomerPublic, CustomerUpdate
from app.services import customers
from app.services.organizations import OrgContext

router = APIRouter(prefix="/orgs/{org_id}/customers", tags=["customers"], route_class=IdempotentRoute)

CustomerReader = Annotated[OrgContext, Depends(RequirePermission(Permission.CUSTOMERS_READ))]
CustomerWriter = Annotated[OrgContext, Depends(RequirePermission(Permission.CUSTOMERS_WRITE))]


def _location(context: OrgContext, customer: Customer) -> str:
    return f"/api/v1/orgs/{context.org_id}/customers/{customer.id}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a customer",
    description="Name required; email, postal address, tax id and up to 20 metadata pairs optional. "
    "The response carries the new customer's `Location` and `ETag`.",
    responses=sets_headers(201, "Location", "ETag"),
)
async def create_customer(
    body: CustomerCreate,
    response: Response,
    context: CustomerWriter,
    session: SessionDep,
    _idempotent: Idempotent,
) -> CustomerPublic:
    customer = await customers.create_customer(session=session, context=context, data=body)
    response.headers["Location"] = _location(context, customer)
    response.headers["ETag"] = entity_tag(customer.version)
    return CustomerPublic.from_model(customer)


@router.get(
    "",
    summary="The organization's customers",
    description="Newest first, with keyset pagination: follow `next_cursor` or the `Link` header. "
    "`q` finds customers whose name or email contains it (any case).",
    responses={200: {"headers": {"Link": response_header("Link", required=False)}}},
)
async def list_customers(
    context: CustomerReader,
    session: SessionDep,
    page: CursorParamsDep,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Part of a name or email.")
    ] = None,
) -> CursorPage[CustomerPublic]:
    binding = f"customers:{context.org_id}:{q or ''}"
    found = await customers.list_customers(
        session=session, query=q, after=page.position(binding=binding), limit=page.limit
    )
    last = found.items[-1].id if found.has_more and found.items else None
    return CursorPage[CustomerPublic](
        items=[CustomerPublic.from_model(customer) for customer in found.items],
        next_cursor=page.next_cursor(last, binding=binding),
    )


@router.get(
    "/{customer_id}",
    response_model=CustomerPublic,
    summary="Read one customer",
    description="With its `ETag`; send it back as `If-None-Match` to get 304 while it is unchanged, "
    "or as `If-Match` to change or delete it.",
    responses={**problems(NotFoundError), **sets_headers(200, "ETag"), 304: {"description": "Not modified."}},
)
async def get_customer(
    customer_id: uuid.UUID, request: Request, response: Response, context: CustomerReader, session: SessionDep
) -> CustomerPublic | Response:
    customer = await customers.get_customer(session=session, customer_id=customer_id)
    etag = entity_tag(customer.version)
    if not_modified(request, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return CustomerPublic.from_model(customer)


@router.patch(
    "/{customer_id}",
    summary="Change a customer",
    description="Only the fields sent change; null clears `email`, `address` or `tax_id`. "
    "Requires `If-Match` with the `ETag` you read.",
    responses={**problems(NotFoundError), **sets_headers(200, "ETag")},
)
async def update_customer(
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    if_match: IfMatchDep,
    response: Response,
    context: CustomerWriter,
    session: SessionDep,
) -> CustomerPublic:
    customer = await customers.update_customer(
        session=session, context=context, customer_id=customer_id, changes=body, if_match=if_match
    )
    response.headers["ETag"] = entity_tag(customer.version)
    return CustomerPublic.from_model(customer)


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a customer",
    description="Requires `If-Match` with the `ETag` you read; a customer changed meanwhile is "
    "not deleted (412); one with invoices is not deleted either (409).",
    responses=problems(NotFoundError, CustomerHasInvoicesError),
)
async def delete_customer(
    customer_id: uuid.UUID, if_match: IfMatchDep, context: CustomerWriter, session: SessionDep
) -> None:
    await customers.delete_customer(
        session=session, context=context, customer_id=customer_id, if_match=if_match
    )
