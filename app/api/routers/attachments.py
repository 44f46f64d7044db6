"""/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments: files on an invoice.

The upload reads its own body as a stream (app/api/multipart.py); the rules (type, size, quota,
the object and its row failing together) are the service's (app/services/attachments.py).
Downloads stream from the store after the request's transaction has committed, so no database
connection is held while a client reads.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from app.api.contract import problems, response_header, sets_headers
from app.api.dependencies.core import SessionDep, SettingsDep, StorageDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.streamed_body import StreamedBodyDep
from app.api.dependencies.tenancy import RequirePermission
from app.api.multipart import MultipartReader, boundary_of
from app.api.ranges import requested_range
from app.clients.storage import ObjectMissingError
from app.core.errors import (
    AttachmentTooLargeError,
    AttachmentTypeRefusedError,
    BadRequestError,
    InvalidInputError,
    NotAttachmentUploaderError,
    NotFoundError,
    RangeNotSatisfiableError,
    ServiceUnavailableError,
    StorageQuotaExceededError,
    UnsupportedMediaTypeError,
)
from app.core.permissions import Permission
from app.core.uploads import ALLOWED_TYPES, content_disposition
from app.schemas.attachments import (
    MAX_DESCRIPTION_CHARS,
    AttachmentFields,
    AttachmentList,
    AttachmentPublic,
    upload_request_body,
)
from app.services import attachments
from app.services.attachments import StoredFile, UploadLimits
from app.services.organizations import OrgContext

router = APIRouter(
    prefix="/orgs/{org_id}/invoices/{invoice_id}/attachments",
    tags=["attachments"],
    route_class=IdempotentRoute,
)

AttachmentReader = Annotated[OrgContext, Depends(RequirePermission(Permission.INVOICES_READ))]
AttachmentWriter = Annotated[OrgContext, Depends(RequirePermission(Permission.INVOICES_WRITE_OWN))]
# A downloaded file is never rendered by the browser in our origin: no scripts, no plugins, a
# sandbox for anything that still tries, and never inside a frame.
DOWNLOAD_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
_FIELD_BYTES = 4 * MAX_DESCRIPTION_CHARS
_BINARY = {"schema": {"type": "string", "format": "binary"}}


def _fields(values: dict[str, str]) -> AttachmentFields:
    try:
        return AttachmentFields.model_validate(values)
    except ValidationError as error:
        raise RequestValidationError(
            [{**issue, "loc": ("body", *issue["loc"])} for issue in error.errors(include_input=False)]
        ) from None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Attach a file",
    description="`multipart/form-data` with exactly one `file` (PDF, PNG or JPEG, decided from its "
    "bytes; a declared part `Content-Type` must agree), a `description` and a `kind`. At most "
    "`ATTACHMENT_MAX_BYTES` (10 MiB by default), counted as the body arrives; the organization's "
    "attachments share `ATTACHMENT_ORG_QUOTA_BYTES`. The file name is kept, sanitized, for "
    "display only. Requires `invoices:write_own`.",
    openapi_extra={"requestBody": upload_request_body()},
    responses={
        **problems(
            BadRequestError,
            NotFoundError,
            AttachmentTooLargeError,
            StorageQuotaExceededError,
            UnsupportedMediaTypeError,
            AttachmentTypeRefusedError,
            InvalidInputError,
            ServiceUnavailableError,
        ),
        **sets_headers(201, "Location"),
    },
)
async def upload_attachment(
    invoice_id: uuid.UUID,
    request: Request,
    response: Response,
    context: AttachmentWriter,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    body: StreamedBodyDep,
    _idempotent: Idempotent,
) -> AttachmentPublic:
    limits = UploadLimits(
        max_bytes=settings.attachment_max_bytes, quota_bytes=settings.attachment_org_quota_bytes
    )
    remaining = await attachments.prepare_upload(session=session, invoice_id=invoice_id, limits=limits)
    reader = MultipartReader(body.chunks(), boundary_of(request.headers.get("content-type")))
    values: dict[str, str] = {}
    stored: StoredFile | None = None
    while (part := await reader.next_part()) is not None:
        if part.filename is not None or part.name == "file":
            if part.name != "file" or stored is not None:
                raise InvalidInputError(
                    ["body", part.name], "exactly one file, in the part `file`", "one_file"
                )
            if len(values) == 2:
                _fields(values)  # refuse bad fields before anything is stored
            stored = await attachments.store_file(
                session=session,
                context=context,
                storage=storage,
                invoice_id=invoice_id,
                filename=part.filename,
                declared_type=part.content_type,
                chunks=reader.data(),
                limits=limits,
                remaining=remaining,
            )
        elif part.name in values:
            raise InvalidInputError(["body", part.name], "sent more than once", "duplicate_field")
        else:
            values[part.name] = await reader.text(limit=_FIELD_BYTES)
    fields = _fields(values)
    if stored is None:
        raise InvalidInputError(["body", "file"], "Field required", "missing")
    attachment = await attachments.create_attachment(
        session=session,
        context=context,
        stored=stored,
        kind=fields.kind,
        description=fields.description,
        limits=limits,
    )
    response.headers["Location"] = (
        f"/api/v1/orgs/{context.org_id}/invoices/{invoice_id}/attachments/{attachment.id}/content"
    )
    return AttachmentPublic.from_model(attachment)


@router.get(
    "",
    summary="An invoice's attachments",
    description=f"Oldest first; at most {attachments.LIST_LIMIT}.",
    responses=problems(NotFoundError),
)
async def list_attachments(
    invoice_id: uuid.UUID, context: AttachmentReader, session: SessionDep
) -> AttachmentList:
    found = await attachments.list_attachments(session=session, invoice_id=invoice_id)
    return AttachmentList(items=[AttachmentPublic.from_model(attachment) for attachment in found])


_DOWNLOAD_HEADERS = {
    name: response_header(name, required=True) for name in ("Content-Disposition", "ETag", "Accept-Ranges")
}


@router.get(
    "/{attachment_id}/content",
    summary="Download an attachment",
    description="The file as stored, always as a download (`Content-Disposition: attachment`, "
    "`X-Content-Type-Options: nosniff`, a sandboxing CSP), with its SHA-256 as `ETag`. One "
    "`Range` (`bytes=0-99`, `bytes=-100`, `bytes=100-`) gets 206; several are ignored (200); "
    "one past the end is 416. `If-Range` with the `ETag` keeps a range to this version.",
    response_class=StreamingResponse,
    responses={
        **problems(NotFoundError, RangeNotSatisfiableError),
        200: {
            "description": "The whole file.",
            "content": dict.fromkeys(ALLOWED_TYPES, _BINARY),
            "headers": _DOWNLOAD_HEADERS,
        },
        206: {
            "description": "The requested bytes.",
            "content": dict.fromkeys(ALLOWED_TYPES, _BINARY),
            "headers": {
                **_DOWNLOAD_HEADERS,
                "Content-Range": response_header("Content-Range", required=True),
            },
        },
    },
)
async def download_attachment(
    invoice_id: uuid.UUID,
    attachment_id: uuid.UUID,
    response: Response,
    context: AttachmentReader,
    session: SessionDep,
    storage: StorageDep,
    range_header: Annotated[
        str | None, Header(alias="Range", max_length=200, description="One byte range, e.g. `bytes=0-1023`.")
    ] = None,
    if_range: Annotated[
        str | None,
        Header(alias="If-Range", max_length=200, description="Honour `Range` only for this `ETag`."),
    ] = None,
) -> StreamingResponse:
    attachment = await attachments.get_attachment(
        session=session, invoice_id=invoice_id, attachment_id=attachment_id
    )
    etag = f'"{attachment.sha256}"'
    size = attachment.size_bytes
    wanted = requested_range(range_header, size=size, if_range=if_range, etag=etag)
    start, end = wanted if wanted is not None else (0, size)
    stream = storage.get(attachment.storage_key, start=start, end=end)
    try:
        first = await anext(stream)  # a missing object is a 404 now, not a broken 200 later
    except (ObjectMissingError, StopAsyncIteration):
        raise NotFoundError(attachments.NO_SUCH_ATTACHMENT) from None
    headers = {
        "Content-Disposition": content_disposition(attachment.filename),
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_POLICY,
        "Cache-Control": "private, no-store",
    }
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    # What the dependencies set (the rate-limit fields): FastAPI copies them only into responses
    # it builds itself, not into one the endpoint returns.
    for name, value in response.headers.items():
        headers.setdefault(name, value)
    return StreamingResponse(
        _prepend(first, stream),
        status_code=status.HTTP_206_PARTIAL_CONTENT if wanted is not None else status.HTTP_200_OK,
        media_type=attachment.content_type,
        headers=headers,
    )


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


@router.delete(
    "/{attachment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an attachment",
    description="By its uploader, or an administrator or owner (403 `not_attachment_uploader` "
    "otherwise). The file is removed from storage once the deletion has committed.",
    responses=problems(NotFoundError, NotAttachmentUploaderError),
)
async def delete_attachment(
    invoice_id: uuid.UUID,
    attachment_id: uuid.UUID,
    context: AttachmentWriter,
    session: SessionDep,
    storage: StorageDep,
) -> None:
    await attachments.delete_attachment(
        session=session, context=context, storage=storage, invoice_id=invoice_id, attachment_id=attachment_id
    )
