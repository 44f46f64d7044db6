"""The PDF pipeline without HTTP: the bounded cache, the thread limiter, the renderer's output."""

from __future__ import annotations

import io
import threading
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import anyio
import pytest
from pypdf import PdfReader

from app.core.byte_cache import LruByteCache
from app.services.invoice_pdf import (
    DocumentCustomer,
    DocumentLine,
    InvoiceDocument,
    address_lines,
    render_invoice_pdf,
)
from app.services.invoice_pdfs import InvoicePdfs, PdfSource


def document(*, status: str = "open", lines: int = 1, number: str = "INV-2026-000001") -> InvoiceDocument:
    line = DocumentLine("Consulting", Decimal(2), Decimal("0.0125"), Decimal("0.19"), Decimal("0.03"))
    return InvoiceDocument(
        organization="Acme",
        number=number,
        status=status,
        currency="USD",
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        memo="Thanks",
        customer=DocumentCustomer("Globex", ("1 Main St", "Springfield"), None, None),
        lines=(line,) * lines,
        subtotal=Decimal("0.03") * lines,
        tax_total=Decimal("0.01") * lines,
        total=Decimal("0.04") * lines,
        amount_paid=Decimal("0.00"),
        finalized_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_the_cache_keeps_at_most_its_bytes_least_recently_used_out_first() -> None:
    cache = LruByteCache(max_bytes=10, max_entry_bytes=6)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # now "b" is the least recently used
    cache.put("c", b"1234")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1234", None, b"1234")
    assert cache.size == 8
    cache.put("huge", b"1234567")  # larger than one entry may be: not kept, nothing pushed out
    assert (cache.get("huge"), len(cache)) == (None, 2)
    cache.put("a", b"12")  # replaced, and counted once
    assert cache.size == 6
    assert LruByteCache(max_bytes=0).get("a") is None


def test_the_page_shows_prices_finer_than_the_currency_and_is_the_same_bytes_each_time() -> None:
    content = render_invoice_pdf(document(), locale="en_US")
    assert content == render_invoice_pdf(document(), locale="en_US")
    text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert "$0.0125" in text  # the unit price as given
    assert "$0.04" in text
    assert "Page 1 of 1" in text


def test_the_locale_writes_the_amounts() -> None:
    reader = PdfReader(io.BytesIO(render_invoice_pdf(document(lines=100), locale="de_DE")))
    assert "4,00\xa0$" in reader.pages[-1].extract_text()  # 100 x 0.04, as de_DE writes USD
    assert "01.11.2026" in reader.pages[0].extract_text()


def test_a_void_invoice_says_so_on_every_page() -> None:
    reader = PdfReader(io.BytesIO(render_invoice_pdf(document(status="void", lines=100), locale="en_US")))
    assert len(reader.pages) > 1
    assert all("VOID" in page.extract_text() for page in reader.pages)


def test_an_address_prints_as_lines() -> None:
    assert address_lines(None) == ()
    assert address_lines(
        {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    ) == ("Hauptstraße 1", "10115 Berlin", "DE")


@pytest.mark.anyio
async def test_renders_run_in_threads_a_few_at_a_time_and_each_tag_once() -> None:
    pdfs = InvoicePdfs(locale="en_US", cache=LruByteCache(max_bytes=1 << 20), max_concurrent=2)
    running, most, threads = 0, 0, set()
    lock = threading.Lock()

    def slow(doc: InvoiceDocument, locale: str) -> bytes:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            threads.add(threading.get_ident())
        time.sleep(0.05)
        with lock:
            running -= 1
        return doc.number.encode()

    pdfs.render = slow
    sources = [
        PdfSource(invoice_id=uuid.uuid4(), document=document(number=f"INV-2026-{n:06}"), etag='"pdf-1"')
        for n in range(8)
    ]
    async with anyio.create_task_group() as group:
        for source in sources:
            group.start_soon(pdfs.pdf, source)
    assert most == 2
    assert threading.get_ident() not in threads  # never on the event loop's thread
    calls: list[InvoiceDocument] = []

    def counted(doc: InvoiceDocument, locale: str) -> bytes:
        calls.append(doc)
        return b"again"

    pdfs.render = counted
    assert await pdfs.pdf(sources[0]) == b"INV-2026-000000"  # cached: not rendered again
    assert calls == []
