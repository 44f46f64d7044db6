"""Attachments: the upload's form fields, and what a client sees of a stored file."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.models import Attachment, AttachmentKind
from app.schemas.common import SingleLineText, StrictInput, UtcDateTime
from app.schemas.invoices import Creator

MAX_DESCRIPTION_CHARS = 500


class AttachmentFields(StrictInput):
    """The text fields of an upload (the `file` part is read as a stream, not here)."""

    description: Annotated[str, SingleLineText(max_length=MAX_DESCRIPTION_CHARS)]
    kind: AttachmentKind


class AttachmentPublic(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    kind: AttachmentKind
    description: str
    filename: str = Field(description="The uploaded file's name, sanitized: for display only.")
    content_type: str = Field(
        description="Decided from the file's bytes: application/pdf, image/png or image/jpeg."
    )
    size_bytes: int
    sha256: str = Field(description="Hex SHA-256 of the bytes; the download's ETag.")
    active_content: bool = Field(
        description="A PDF with JavaScript (stored, only ever served as a download)."
    )
    created_by: Creator | None
    created_at: UtcDateTime

    @classmethod
    def from_model(cls, attachment: Attachment) -> AttachmentPublic:
        if attachment.created_by_user_id is not None:
            creator: Creator | None = Creator(type="user", id=attachment.created_by_user_id)
        elif attachment.created_by_api_key_id is not None:
            creator = Creator(type="api_key", id=attachment.created_by_api_key_id)
        else:
            creator = None
        return cls(
            id=attachment.id,
            invoice_id=attachment.invoice_id,
            kind=attachment.kind,
            description=attachment.description,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size_bytes=attachment.size_bytes,
            sha256=attachment.sha256,
            active_content=attachment.active_content,
            created_by=creator,
            created_at=attachment.created_at,
        )


class AttachmentList(BaseModel):
    """An invoice's attachments, oldest first; bounded, so one page is all of them."""

    items: list[AttachmentPublic]


def upload_request_body() -> dict[str, Any]:
    """The OpenAPI `requestBody` of an upload: the endpoint reads the stream itself."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "description", "kind"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "Exactly one file: a PDF, PNG or JPEG, decided from its bytes. "
                            "A part `Content-Type`, if any other than `application/octet-stream`, "
                            "must name the same type.",
                        },
                        "description": {"type": "string", "minLength": 1, "maxLength": MAX_DESCRIPTION_CHARS},
                        "kind": {"type": "string", "enum": [kind.value for kind in AttachmentKind]},
                    },
                },
            }
        },
    }
