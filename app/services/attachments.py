"""Attachments: files on an invoice. The rules for what is accepted, stored, listed and removed.

An upload is two steps in the request's unit of work, so that a failure leaves neither a row
nor an orphan object:

1. `store_file` checks the bytes as they stream (type from the magic bytes, size against
   `ATTACHMENT_MAX_BYTES` and the organization's remaining quota, SHA-256) and writes them
   under a fresh key (`<org id>/<attachment id>`, never the client's name). A refusal or a
   storage failure raises before any row exists, and the store keeps nothing of a failed put.
   Once the object is written, its deletion is registered with `on_rollback`: from then on,
   whatever fails (the rest of the body, the row's insert, the idempotency key, the commit
   itself, a timeout) rolls the transaction back and removes the object.
2. `create_attachment` re-checks the quota under the organization's lock, inserts the row and
   the audit entry. The commit makes both durable; only then does the object count as kept.

A deletion goes the other way round: the row goes in the transaction, the object only after
the commit (`on_commit`), so a failed request never leaves a row without its file; a failed
object delete leaves an unreferenced object, which is logged.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from app.clients.storage import Storage, StorageError
from app.core.errors import (
    AttachmentTooLargeError,
    AttachmentTypeRefusedError,
    InvalidInputError,
    NotAttachmentUploaderError,
    NotFoundError,
    ServiceUnavailableError,
    StorageQuotaExceededError,
)
from app.core.permissions import Role
from app.core.security.principal import ApiKeyPrincipal
from app.core.uploads import (
    PDF,
    SNIFF_BYTES,
    ActiveContentScanner,
    declared_type_agrees,
    sanitize_filename,
    sniff,
)
from app.db.session import on_commit, on_rollback
from app.models import Attachment, AttachmentKind, Invoice
from app.services import audit
from app.services.organizations import OrgContext, lock_organization

NO_SUCH_ATTACHMENT = "No such attachment."
NO_SUCH_INVOICE = "No such invoice."
LIST_LIMIT = 100


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_bytes: int
    quota_bytes: int


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An object written for this request; its row is not yet inserted."""

    attachment_id: uuid.UUID
    invoice_id: uuid.UUID
    key: str
    filename: str
    content_type: str
    size: int
    sha256: str
    active_content: bool


async def _ensure_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> None:
    found = await session.scalar(select(Invoice.id).where(Invoice.id == invoice_id))
    if found is None:
        raise NotFoundError(NO_SUCH_INVOICE)


async def _used_bytes(session: AsyncSession) -> int:
    used = await session.scalar(select(func.coalesce(func.sum(Attachment.size_bytes), 0)))
    return int(used or 0)


async def prepare_upload(*, session: AsyncSession, invoice_id: uuid.UUID, limits: UploadLimits) -> int:
    """Before the body is read: 404 for another tenant's or a missing invoice, 413 when the
    quota is already spent. The most bytes this upload may have."""
    await _ensure_invoice(session, invoice_id)
    remaining = limits.quota_bytes - await _used_bytes(session)
    if remaining <= 0:
        raise StorageQuotaExceededError("The organization's attachments already fill its storage quota.")
    return remaining


class _Checked:
    """The upload's bytes, passed on only once they are known to be an allowed type, counted
    and hashed as they go; a refusal is raised from inside the store's put, which then keeps
    nothing."""

    def __init__(
        self, chunks: AsyncIterable[bytes], *, declared: str | None, max_bytes: int, remaining: int
    ) -> None:
        self.chunks = chunks
        self.declared = declared
        self.max_bytes = max_bytes
        self.remaining = remaining
        self.size = 0
        self.digest = hashlib.sha256()
        self.content_type: str | None = None
        self.scanner = ActiveContentScanner()

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise AttachmentTooLargeError(f"The file exceeds {self.max_bytes} bytes.")
        if self.size > self.remaining:
            raise StorageQuotaExceededError("The file would exceed the organization's storage quota.")
        self.digest.update(chunk)
        if self.content_type == PDF:
            self.scanner.feed(chunk)

    def _decide(self, head: bytes) -> None:
        sniffed = sniff(head)
        if sniffed is None:
            raise AttachmentTypeRefusedError("Only PDF, PNG and JPEG files are accepted.")
        if not declared_type_agrees(self.declared, sniffed):
            raise AttachmentTypeRefusedError(f"The part says {self.declared}, but the file is {sniffed}.")
        self.content_type = sniffed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = b""
        async for chunk in self.chunks:
            if self.content_type is None:
                head += chunk
                if len(head) < SNIFF_BYTES:
                    continue
                self._decide(head)
                passed, head = head, b""
            else:
                passed = chunk
            self._count(passed)
            yield passed
        if self.content_type is None:
            if not head:
                raise InvalidInputError(["body", "file"], "must not be empty", "empty_file")
            self._decide(head)
            self._count(head)
            yield head


async def store_file(
    *,
    session: AsyncSession,
    context: OrgContext,
    storage: Storage,
    invoice_id: uuid.UUID,
    filename: str | None,
    declared_type: str | None,
    chunks: AsyncIterable[bytes],
    limits: UploadLimits,
    remaining: int,
) -> StoredFile:
    """Stream the file into storage under a fresh key; see the module's docstring."""
    attachment_id = uuid.UUID(str(uuid7()))
    key = f"{context.org_id}/{attachment_id}"
    checked = _Checked(chunks, declared=declared_type, max_bytes=limits.max_bytes, remaining=remaining)
    try:
        await storage.put(key, checked)
    except StorageError as error:
        raise ServiceUnavailableError("The file store is unavailable; try again later.") from error

    async def remove_object() -> None:
        await storage.delete(key)

    on_rollback(session, remove_object)
    assert checked.content_type is not None
    return StoredFile(
        attachment_id=attachment_id,
        invoice_id=invoice_id,
        key=key,
        filename=sanitize_filename(filename, media_type=checked.content_type),
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.digest.hexdigest(),
        active_content=checked.scanner.found,
    )


async def create_attachment(
    *,
    session: AsyncSession,
    context: OrgContext,
    stored: StoredFile,
    kind: AttachmentKind,
    description: str,
    limits: UploadLimits,
) -> Attachment:
    """The row for a stored file, once the quota still holds under the organization's lock."""
    await lock_organization(session, context)
    if await _used_bytes(session) + stored.size > limits.quota_bytes:
        raise StorageQuotaExceededError("The file would exceed the organization's storage quota.")
    attachment = Attachment(
        id=stored.attachment_id,
        org_id=context.org_id,
        invoice_id=stored.invoice_id,
        kind=kind,
        description=description,
        filename=stored.filename,
        content_type=stored.content_type,
        size_bytes=stored.size,
        sha256=stored.sha256,
        active_content=stored.active_content,
        storage_key=stored.key,
    )
    if isinstance(context.principal, ApiKeyPrincipal):
        attachment.created_by_api_key_id = context.principal.api_key_id
    else:
        attachment.created_by_user_id = context.principal.user_id
    session.add(attachment)
    await session.flush()
    audit.record(
        session,
        context,
        action="attachment.created",
        target_type="attachment",
        target_id=attachment.id,
        changes={
            "invoice_id": str(stored.invoice_id),
            "filename": stored.filename,
            "content_type": stored.content_type,
            "size_bytes": stored.size,
            "sha256": stored.sha256,
        },
    )
    return attachment


async def list_attachments(*, session: AsyncSession, invoice_id: uuid.UUID) -> list[Attachment]:
    """The invoice's attachments, oldest first, at most `LIST_LIMIT`."""
    await _ensure_invoice(session, invoice_id)
    found = await session.scalars(
        select(Attachment)
        .where(Attachment.invoice_id == invoice_id)
        .order_by(Attachment.id)
        .limit(LIST_LIMIT)
    )
    return list(found)


async def get_attachment(
    *, session: AsyncSession, invoice_id: uuid.UUID, attachment_id: uuid.UUID
) -> Attachment:
    attachment = await session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.invoice_id == invoice_id)
    )
    if attachment is None:
        raise NotFoundError(NO_SUCH_ATTACHMENT)
    return attachment


def _may_delete(context: OrgContext, attachment: Attachment) -> bool:
    if context.role in (Role.OWNER, Role.ADMIN):
        return True
    principal = context.principal
    if isinstance(principal, ApiKeyPrincipal):
        return attachment.created_by_api_key_id == principal.api_key_id
    return attachment.created_by_user_id == principal.user_id


async def delete_attachment(
    *,
    session: AsyncSession,
    context: OrgContext,
    storage: Storage,
    invoice_id: uuid.UUID,
    attachment_id: uuid.UUID,
) -> None:
    """The uploader, or an administrator or owner; the object goes once the row's removal commits."""
    attachment = await get_attachment(session=session, invoice_id=invoice_id, attachment_id=attachment_id)
    if not _may_delete(context, attachment):
        raise NotAttachmentUploaderError("Only its uploader or an administrator may delete an attachment.")
    await session.delete(attachment)
    await session.flush()
    audit.record(
        session,
        context,
        action="attachment.deleted",
        target_type="attachment",
        target_id=attachment.id,
        changes={"invoice_id": str(invoice_id), "filename": attachment.filename},
    )
    forget_objects(session, storage, [attachment.storage_key])


async def keys_of_invoice(*, session: AsyncSession, invoice_id: uuid.UUID) -> list[str]:
    found = await session.scalars(select(Attachment.storage_key).where(Attachment.invoice_id == invoice_id))
    return list(found)


def forget_objects(session: AsyncSession, storage: Storage, keys: list[str]) -> None:
    """Delete these objects once the transaction that removed their rows has committed."""
    for key in keys:

        async def remove(key: str = key) -> None:
            await storage.delete(key)

        on_commit(session, remove)
