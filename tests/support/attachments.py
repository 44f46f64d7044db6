"""Attachments for the tests: small real files of each allowed type, uploads, and the store
under test (a directory, or a bucket on the S3 emulator) whose objects can be counted."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.core.permissions import Role
from tests.support.s3 import S3Server
from tests.support.tenants import Tenant


def png_bytes(padding: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    if padding:
        body += chunk(b"tEXt", b"pad\x00" + b"x" * padding)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


def pdf_bytes(*, script: bool = False, padding: int = 0) -> bytes:
    action = b"/OpenAction << /S /JavaScript /JS (app.alert('hi')) >>" if script else b""
    return (
        b"%PDF-1.7\n1 0 obj << /Type /Catalog "
        + action
        + b" >> endobj\n"
        + b"%"
        + b"p" * padding
        + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
FIELDS = {"description": "Hotel receipt", "kind": "receipt"}


@dataclass
class Store:
    """The store an app under test writes to, and a way to see what it holds."""

    overrides: dict[str, Any]
    directory: Path | None = None
    s3: S3Server | None = None
    bucket: str | None = None

    def keys(self) -> list[str]:
        if self.s3 is not None and self.bucket is not None:
            return self.s3.keys(self.bucket) + self.s3.pending_uploads(self.bucket)
        assert self.directory is not None
        return sorted(
            str(path.relative_to(self.directory)) for path in self.directory.rglob("*") if path.is_file()
        )


def local_store(directory: Path) -> Store:
    return Store(overrides={"storage_local_dir": str(directory)}, directory=directory)


def s3_store(server: S3Server) -> Store:
    bucket = server.new_bucket()
    return Store(overrides=server.settings(bucket), s3=server, bucket=bucket)


async def upload(
    client: httpx.AsyncClient,
    tenant: Tenant,
    invoice_id: str,
    content: bytes = b"",
    *,
    filename: str = "receipt.png",
    content_type: str | None = "image/png",
    fields: dict[str, str] | None = None,
    role: Role = Role.MEMBER,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    file: tuple[Any, ...] = (filename, content or png_bytes())
    if content_type is not None:
        file = (*file, content_type)
    return await client.post(
        tenant.path(f"/invoices/{invoice_id}/attachments"),
        headers={**tenant.auth[role], **(headers or {})},
        data=FIELDS if fields is None else fields,
        files={"file": file},
    )
