"""Attachments through the API, on both databases and both stores (a directory, and a bucket on
moto's S3 emulator): what is accepted, what hostile uploads get, and that a refused or failed
upload leaves neither a row nor an object."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.storage import LocalStorage, S3Storage, StorageError
from app.core.permissions import Role
from app.services import audit as audit_service
from tests.conftest import ClientFactory
from tests.support.attachments import FIELDS, JPEG, Store, local_store, pdf_bytes, png_bytes, s3_store, upload
from tests.support.invoicing import new_customer, new_invoice
from tests.support.s3 import S3Server, run_s3_server
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

BOUNDARY = "invoicer-test-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    yield from run_s3_server()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        return s3_store(server)
    return local_store(tmp_path / "attachments")


def part(name: str, value: bytes, *, filename: str | None = None, content_type: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def fields() -> bytes:
    return part("description", b"Hotel receipt") + part("kind", b"receipt")


async def setup(client: httpx.AsyncClient) -> tuple[Tenant, str]:
    acme = await make_tenant(client)
    invoice = await new_invoice(client, acme, await new_customer(client, acme))
    return acme, str(invoice.json()["id"])


async def listed(client: httpx.AsyncClient, acme: Tenant, invoice_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        acme.path(f"/invoices/{invoice_id}/attachments"), headers=acme.auth[Role.VIEWER]
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def post_raw(
    client: httpx.AsyncClient,
    acme: Tenant,
    invoice_id: str,
    content: Any,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        acme.path(f"/invoices/{invoice_id}/attachments"),
        headers={**acme.auth[Role.MEMBER], **MULTIPART, **(headers or {})},
        content=content,
    )


# --- accepted uploads, downloads and ranges ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "filename", "declared", "stored_type"),
    [
        (png_bytes(), "receipt.png", "image/png", "image/png"),
        (pdf_bytes(), "contract.pdf", "application/pdf", "application/pdf"),
        (JPEG, "photo.jpeg", "image/jpg", "image/jpeg"),
        (png_bytes(), "undeclared.bin", "application/octet-stream", "image/png"),
    ],
)
async def test_an_upload_is_stored_listed_and_downloaded_as_it_was(
    make_client: ClientFactory, store: Store, content: bytes, filename: str, declared: str, stored_type: str
) -> None:
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        created = await upload(client, acme, invoice_id, content, filename=filename, content_type=declared)
        assert created.status_code == 201, created.text
        attachment = created.json()
        assert attachment["content_type"] == stored_type
        assert attachment["size_bytes"] == len(content)
        assert [item["id"] for item in await listed(client, acme, invoice_id)] == [attachment["id"]]
        assert store.keys() == [f"{acme.org_id}/{attachment['id']}"]  # the key is ours, never the name
        download = await client.get(created.headers["Location"], headers=acme.auth[Role.VIEWER])
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["Content-Type"] == stored_type
    assert download.headers["ETag"] == f'"{attachment["sha256"]}"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in download.headers["Content-Security-Policy"]


async def test_ranges_first_bytes_suffix_open_ended_and_unsatisfiable(
    make_client: ClientFactory, store: Store
) -> None:
    content = pdf_bytes(padding=1000)
    size = len(content)
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        created = await upload(
            client, acme, invoice_id, content, filename="a.pdf", content_type="application/pdf"
        )
        url, etag = created.headers["Location"], created.json()["sha256"]

        async def fetch(header: str, **extra: str) -> httpx.Response:
            return await client.get(url, headers={**acme.auth[Role.VIEWER], "Range": header, **extra})

        first = await fetch("bytes=0-9")
        suffix = await fetch("bytes=-5")
        open_ended = await fetch("bytes=100-")
        past_end = await fetch(f"bytes={size}-")
        several = await fetch("bytes=0-1,5-6")
        stale = await fetch("bytes=0-9", **{"If-Range": '"another-version"'})
        current = await fetch("bytes=0-9", **{"If-Range": f'"{etag}"'})
    assert (first.status_code, first.content, first.headers["Content-Range"]) == (
        206,
        content[:10],
        f"bytes 0-9/{size}",
    )
    assert (suffix.status_code, suffix.content) == (206, content[-5:])
    assert suffix.headers["Content-Range"] == f"bytes {size - 5}-{size - 1}/{size}"
    assert (open_ended.status_code, open_ended.content) == (206, content[100:])
    assert past_end.status_code == 416
    assert past_end.json()["code"] == "range_not_satisfiable"
    assert past_end.headers["Content-Range"] == f"bytes */{size}"
    assert (several.status_code, several.content) == (200, content)  # several ranges: ignored
    assert (stale.status_code, stale.content) == (200, content)
    assert current.status_code == 206


async def test_a_pdf_with_javascript_is_stored_but_only_ever_downloaded(make_client: ClientFactory) -> None:
    async with make_client() as client:
        acme, invoice_id = await setup(client)
        created = await upload(
            client, acme, invoice_id, pdf_bytes(script=True), filename="x.pdf", content_type="application/pdf"
        )
        assert created.status_code == 201, created.text
        assert created.json()["active_content"] is True
        download = await client.get(created.headers["Location"], headers=acme.auth[Role.VIEWER])
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox; frame-ancestors 'none'"
    )


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        # Fullwidth letters and solidus: NFKC makes the separators real before the split.
        ("\uff52\uff45\uff43\uff0f..\uff0fx.png", "x.png"),
        ("re\u202egnp.exe", "regnp.exe"),
        ("a\x01b\x7fc.png", "abc.png"),
        ("....", "attachment.png"),
        ("x" * 10_000 + ".png", "x" * 196 + ".png"),
    ],
)
async def test_a_client_filename_is_sanitized_metadata(
    make_client: ClientFactory, store: Store, sent: str, kept: str
) -> None:
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        created = await post_raw(
            client,
            acme,
            invoice_id,
            body(fields(), part("file", png_bytes(), filename=sent, content_type="image/png")),
        )
        assert created.status_code == 201, created.text
        assert created.json()["filename"] == kept
        assert store.keys() == [f"{acme.org_id}/{created.json()['id']}"]


async def test_a_non_ascii_name_is_sent_with_an_ascii_fallback(make_client: ClientFactory) -> None:
    async with make_client() as client:
        acme, invoice_id = await setup(client)
        created = await upload(client, acme, invoice_id, filename="Quittung Zürich €.png")
        download = await client.get(created.headers["Location"], headers=acme.auth[Role.VIEWER])
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="Quittung Zurich _.png"; '
        "filename*=UTF-8''Quittung%20Z%C3%BCrich%20%E2%82%AC.png"
    )


# --- hostile uploads: the right problem, and nothing stored ---------------------------------------


async def _slowly(chunks: list[bytes], pause: float) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await asyncio.sleep(pause)
        yield chunk


async def _chunked(content: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]


HOSTILE: dict[str, tuple[Any, dict[str, str], int, str]] = {
    "oversized, lying Content-Length": (
        body(
            fields(),
            part("file", png_bytes(padding=10 * 1024 * 1024), filename="a.png", content_type="image/png"),
        ),
        {"Content-Length": "1000"},
        413,
        "attachment_too_large",
    ),
    "wrong magic bytes": (
        body(fields(), part("file", b"MZ\x90\x00 an executable", filename="a.png", content_type="image/png")),
        {},
        415,
        "attachment_type_refused",
    ),
    "html posing as png": (
        body(fields(), part("file", b"<html><script>alert(1)</script>", filename="a.png")),
        {},
        415,
        "attachment_type_refused",
    ),
    "declared type mismatch": (
        body(fields(), part("file", png_bytes(), filename="a.pdf", content_type="application/pdf")),
        {},
        415,
        "attachment_type_refused",
    ),
    "empty file": (body(fields(), part("file", b"", filename="a.png")), {}, 422, "validation_error"),
    "no file": (body(fields()), {}, 422, "validation_error"),
    "no description": (
        body(part("kind", b"receipt"), part("file", png_bytes(), filename="a.png")),
        {},
        422,
        "validation_error",
    ),
    "unknown kind": (
        body(
            part("description", b"x"), part("kind", b"invoice"), part("file", png_bytes(), filename="a.png")
        ),
        {},
        422,
        "validation_error",
    ),
    "fields after the file, one missing": (
        body(part("file", png_bytes(), filename="a.png"), part("kind", b"receipt")),
        {},
        422,
        "validation_error",
    ),
    "two files": (
        body(
            fields(), part("file", png_bytes(), filename="a.png"), part("file", png_bytes(), filename="b.png")
        ),
        {},
        422,
        "validation_error",
    ),
    "a file under another name": (
        body(fields(), part("attachment", png_bytes(), filename="a.png")),
        {},
        422,
        "validation_error",
    ),
    "not multipart": (b'{"file": "x"}', {"Content-Type": "application/json"}, 415, "unsupported_media_type"),
    "truncated multipart": (
        body(fields(), part("file", png_bytes(), filename="a.png"))[:-30],
        {},
        400,
        "bad_request",
    ),
    "huge part headers": (
        body(fields(), part("file", png_bytes(), filename="a" * 20_000 + ".png")),
        {},
        400,
        "bad_request",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_a_hostile_upload_gets_its_problem_and_stores_nothing(
    make_client: ClientFactory, store: Store, case: str
) -> None:
    content, headers, status, code = HOSTILE[case]
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        refused = await post_raw(client, acme, invoice_id, content, headers)
        assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
        assert await listed(client, acme, invoice_id) == []
    assert store.keys() == []


async def test_a_chunked_upload_without_a_length_is_limited_as_it_streams(
    make_client: ClientFactory, store: Store
) -> None:
    content = body(fields(), part("file", png_bytes(padding=12 * 1024 * 1024), filename="a.png"))
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        refused = await post_raw(client, acme, invoice_id, _chunked(content))
        assert refused.status_code == 413
        assert refused.json()["code"] == "attachment_too_large"
        accepted = await post_raw(
            client, acme, invoice_id, _chunked(body(fields(), part("file", JPEG, filename="j")))
        )
        assert accepted.status_code == 201, accepted.text
    assert store.keys() == [f"{acme.org_id}/{accepted.json()['id']}"]


async def test_the_limit_is_a_setting_and_the_global_body_limit_makes_room_for_it(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    store = local_store(tmp_path)
    async with make_client(**store.overrides, attachment_max_bytes=2 * 1024 * 1024) as client:
        acme, invoice_id = await setup(client)
        # Larger than MAX_REQUEST_BODY_BYTES (1 MiB), within the attachment limit: accepted.
        accepted = await upload(client, acme, invoice_id, png_bytes(padding=1536 * 1024))
        assert accepted.status_code == 201, accepted.text
        refused = await upload(client, acme, invoice_id, png_bytes(padding=2 * 1024 * 1024))
        assert refused.status_code == 413
        # Other routes keep the global limit.
        other = await client.post(
            acme.path("/customers"), headers=acme.auth[Role.OWNER], content=b"x" * (1024 * 1024 + 1)
        )
        assert (other.status_code, other.json()["code"]) == (413, "payload_too_large")
    assert len(store.keys()) == 1


async def test_a_slow_client_is_cut_off_by_the_request_timeout(
    make_client: ClientFactory, store: Store
) -> None:
    content = body(fields(), part("file", png_bytes(padding=4096), filename="a.png"))
    chunks = [content[start : start + 512] for start in range(0, len(content), 512)]
    async with make_client(**store.overrides, request_timeout_seconds=0.5) as client:
        acme, invoice_id = await setup(client)
        slow = await post_raw(client, acme, invoice_id, _slowly(chunks, 0.1))
        assert (slow.status_code, slow.json()["code"]) == (504, "request_timeout")
        assert await listed(client, acme, invoice_id) == []
    assert store.keys() == []


async def test_the_quota_counts_every_attachment_of_the_organization(
    make_client: ClientFactory, store: Store
) -> None:
    content = png_bytes(padding=3000)
    async with make_client(**store.overrides, attachment_org_quota_bytes=2 * len(content) + 100) as client:
        acme, invoice_id = await setup(client)
        for _ in range(2):
            assert (await upload(client, acme, invoice_id, content)).status_code == 201
        over = await upload(client, acme, invoice_id, content)
        assert (over.status_code, over.json()["code"]) == (413, "storage_quota_exceeded")
        small = await upload(client, acme, invoice_id, JPEG, filename="j.jpg", content_type="image/jpeg")
        assert small.status_code == 201  # what is left still fits a small one
        full = await upload(client, acme, invoice_id, JPEG, filename="j.jpg", content_type="image/jpeg")
        assert (full.status_code, full.json()["code"]) == (413, "storage_quota_exceeded")
        assert len(await listed(client, acme, invoice_id)) == 3
    assert len(store.keys()) == 3


# --- failures after the object is written, and before ---------------------------------------------


async def test_a_database_failure_after_the_object_is_written_removes_the_object(
    make_client: ClientFactory, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)

        def broken(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError("the audit insert failed")

        monkeypatch.setattr(audit_service, "record", broken)
        failed = await upload(client, acme, invoice_id)
        assert failed.status_code == 500
        monkeypatch.undo()
        assert await listed(client, acme, invoice_id) == []
    assert store.keys() == []


async def test_a_failed_commit_after_the_endpoint_returned_removes_the_object(
    make_client: ClientFactory, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        real_commit = AsyncSession.commit

        async def failing_commit(self: AsyncSession) -> None:
            await self.rollback()
            raise RuntimeError("the commit failed")

        monkeypatch.setattr(AsyncSession, "commit", failing_commit)
        failed = await upload(client, acme, invoice_id)
        monkeypatch.setattr(AsyncSession, "commit", real_commit)
        assert failed.status_code == 500
        assert await listed(client, acme, invoice_id) == []
    assert store.keys() == []


async def test_a_failed_object_write_leaves_no_row(
    make_client: ClientFactory, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_put(self: object, key: str, chunks: Any) -> int:
        async for _chunk in chunks:
            raise StorageError("the store went away")
        return 0

    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        monkeypatch.setattr(LocalStorage, "put", failing_put)
        monkeypatch.setattr(S3Storage, "put", failing_put)
        failed = await upload(client, acme, invoice_id)
        monkeypatch.undo()
        assert (failed.status_code, failed.json()["code"]) == (503, "service_unavailable")
        assert await listed(client, acme, invoice_id) == []
    assert store.keys() == []


# --- who may do what -----------------------------------------------------------------------------


async def test_delete_is_for_the_uploader_or_an_administrator(
    make_client: ClientFactory, store: Store
) -> None:
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        mine = (await upload(client, acme, invoice_id, role=Role.MEMBER)).json()["id"]
        theirs = (await upload(client, acme, invoice_id, role=Role.ACCOUNTANT)).json()["id"]
        other = (await upload(client, acme, invoice_id, role=Role.ACCOUNTANT)).json()["id"]

        async def delete(attachment_id: str, role: Role) -> httpx.Response:
            path = acme.path(f"/invoices/{invoice_id}/attachments/{attachment_id}")
            return await client.delete(path, headers=acme.auth[role])

        assert (await delete(mine, Role.VIEWER)).status_code == 403  # no invoices:write_own
        refused = await delete(theirs, Role.MEMBER)
        assert (refused.status_code, refused.json()["code"]) == (403, "not_attachment_uploader")
        assert (await delete(mine, Role.MEMBER)).status_code == 204
        assert (await delete(theirs, Role.ADMIN)).status_code == 204
        assert (await delete(other, Role.OWNER)).status_code == 204
        assert (await delete(other, Role.OWNER)).status_code == 404
        assert await listed(client, acme, invoice_id) == []
        audit = await client.get(acme.path("/audit-log"), headers=acme.auth[Role.OWNER])
        actions = [entry["action"] for entry in audit.json()["items"]]
    assert actions.count("attachment.created") == 3
    assert actions.count("attachment.deleted") == 3
    assert store.keys() == []


async def test_reading_needs_invoices_read_and_uploading_invoices_write_own(
    make_client: ClientFactory,
) -> None:
    async with make_client() as client:
        acme, invoice_id = await setup(client)
        refused = await upload(client, acme, invoice_id, role=Role.VIEWER)
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
        created = await upload(client, acme, invoice_id, role=Role.MEMBER)
        assert created.status_code == 201
        assert len(await listed(client, acme, invoice_id)) == 1  # as a viewer
        stranger = await client.get(created.headers["Location"], headers=acme.outsider)
    assert stranger.status_code == 404


async def test_deleting_a_draft_removes_its_attachments_objects(
    make_client: ClientFactory, store: Store
) -> None:
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        assert (await upload(client, acme, invoice_id)).status_code == 201
        draft = await client.get(acme.path(f"/invoices/{invoice_id}"), headers=acme.auth[Role.OWNER])
        deleted = await client.delete(
            acme.path(f"/invoices/{invoice_id}"),
            headers={**acme.auth[Role.OWNER], "If-Match": draft.headers["ETag"]},
        )
        assert deleted.status_code == 204, deleted.text
    assert store.keys() == []


async def test_an_idempotent_retry_gets_the_first_answer_and_stores_one_object(
    make_client: ClientFactory, store: Store
) -> None:
    content = body(
        fields(), part("file", png_bytes(padding=300_000), filename="a.png", content_type="image/png")
    )
    key = {"Idempotency-Key": "upload-1"}
    async with make_client(**store.overrides) as client:
        acme, invoice_id = await setup(client)
        first = await post_raw(client, acme, invoice_id, content, key)
        again = await post_raw(client, acme, invoice_id, content, key)
        other = await post_raw(client, acme, invoice_id, content.replace(b"Hotel", b"Motel"), key)
    assert first.status_code == 201, first.text
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first.json()
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert store.keys() == [f"{acme.org_id}/{first.json()['id']}"]


FIELDS_USED = FIELDS  # the helpers' defaults, named here for readers of the cases above
