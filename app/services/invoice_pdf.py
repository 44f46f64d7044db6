"""An invoice as a PDF: pure rendering with fpdf2, no I/O but reading the bundled font.

`InvoiceDocument.from_models` copies what the page shows out of the ORM objects (on the event
loop, where they were loaded); `render_invoice_pdf` turns that plain, immutable copy into bytes
and is safe to run in a worker thread. Amounts are formatted by babel for the configured
locale in the invoice's currency (JPY without decimals, KWD with three); unit prices keep the
digits they were given (0.0125 USD), since they may be finer than the currency.

The font is DejaVu Sans, subset to Latin, Greek and Cyrillic and the currency symbols
(app/assets/fonts/LICENSE.txt): fpdf2's built-in fonts are Latin-1 only. A character the font
lacks (CJK, Arabic...) is drawn as nothing, and fpdf2 logs which ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

if TYPE_CHECKING:
    from app.models import Customer, Invoice

FONT_DIR = Path(__file__).resolve().parents[1] / "assets" / "fonts"
FONT = "DejaVuSans"
# Changes whenever the layout does, so a cached or client-held copy of the old one is not reused.
LAYOUT_REVISION = "1"

_MARGIN = 15.0
_GREY = (110, 110, 110)
_RULE = (200, 200, 200)
_HEADING_FILL = (238, 240, 244)
# Description, quantity, unit price, tax, amount: in millimetres, 180 in all (A4 less margins).
_COLUMNS = (68.0, 18.0, 34.0, 14.0, 46.0)

# fpdf2 and fontTools log every glyph they subset at INFO; the app's log wants none of it.
for _noisy in ("fpdf", "fontTools"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class DocumentLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    line_total: Decimal


@dataclass(frozen=True, slots=True)
class DocumentCustomer:
    name: str
    address_lines: tuple[str, ...]
    tax_id: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """Everything the page shows, copied out of the models: plain values, safe in any thread."""

    organization: str
    number: str
    status: str
    currency: str
    issue_date: date
    due_date: date
    memo: str | None
    customer: DocumentCustomer
    lines: tuple[DocumentLine, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    amount_paid: Decimal
    finalized_at: datetime | None

    @property
    def amount_due(self) -> Decimal:
        return self.total - self.amount_paid

    @classmethod
    def from_models(cls, invoice: Invoice, customer: Customer, *, organization: str) -> InvoiceDocument:
        assert invoice.number is not None, "only a finalized invoice has a document"
        return cls(
            organization=organization,
            number=invoice.number,
            status=invoice.status.value,
            currency=invoice.currency,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            memo=invoice.memo,
            customer=DocumentCustomer(
                name=customer.name,
                address_lines=address_lines(customer.address),
                tax_id=customer.tax_id,
                email=customer.email,
            ),
            lines=tuple(
                DocumentLine(
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    tax_rate=line.tax_rate,
                    line_total=line.line_total,
                )
                for line in invoice.line_items
            ),
            subtotal=invoice.subtotal,
            tax_total=invoice.tax_total,
            total=invoice.total,
            amount_paid=invoice.amount_paid,
            finalized_at=invoice.finalized_at,
        )


def address_lines(address: dict[str, Any] | None) -> tuple[str, ...]:
    """A stored address as printed lines: street, city line, region, country code."""
    if not address:
        return ()
    city = " ".join(str(part) for part in (address.get("postal_code"), address.get("city")) if part)
    parts = (address.get("line1"), address.get("line2"), city, address.get("region"), address.get("country"))
    return tuple(str(part) for part in parts if part)


class _Page(FPDF):
    """A4 with the invoice's number and "page n of m" in the footer, and VOID across void pages."""

    def __init__(self, document: InvoiceDocument) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.document = document
        self.add_font(FONT, "", FONT_DIR / "DejaVuSans.ttf")
        self.add_font(FONT, "B", FONT_DIR / "DejaVuSans-Bold.ttf")
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=_MARGIN + 8)

    def header(self) -> None:
        if self.document.status == "void":
            self._watermark("VOID")

    def _watermark(self, text: str) -> None:
        # Light, and drawn first on each page: under the text, which stays readable.
        with self.local_context(text_color=(250, 212, 212)):
            self.set_font(FONT, "B", 110)
            x, y = self.w / 2, self.h / 2
            with self.rotation(45, x, y):
                width = self.get_string_width(text)
                self.text(x - width / 2, y + 15, text)
        self.set_xy(self.l_margin, self.t_margin)

    def footer(self) -> None:
        self.set_y(-_MARGIN)
        self.set_font(FONT, "", 8)
        self.set_text_color(*_GREY)
        width = self.epw / 2
        # The number only: an organization's name may be as long as the footer is wide.
        self.cell(width, 5, f"Invoice {self.document.number}", align=Align.L)
        self.cell(width, 5, f"Page {self.page_no()} of {{nb}}", align=Align.R)


class _Formats:
    def __init__(self, currency: str, locale: str) -> None:
        self.currency, self.locale = currency, locale

    def money(self, amount: Decimal) -> str:
        return format_currency(amount, self.currency, locale=self.locale)

    def price(self, amount: Decimal) -> str:
        # At least the currency's decimals, more when the price has them (0.0125).
        return format_currency(amount, self.currency, locale=self.locale, decimal_quantization=False)

    def quantity(self, value: Decimal) -> str:
        return format_decimal(value, locale=self.locale, decimal_quantization=False)

    def rate(self, value: Decimal) -> str:
        return format_percent(value, locale=self.locale, decimal_quantization=False)

    def day(self, value: date) -> str:
        return format_date(value, format="medium", locale=self.locale)


def render_invoice_pdf(document: InvoiceDocument, *, locale: str) -> bytes:
    """The invoice as PDF bytes. Pure and thread-safe: run it off the event loop."""
    formats = _Formats(document.currency, locale)
    pdf = _Page(document)
    pdf.set_title(f"Invoice {document.number}")
    pdf.set_author(document.organization)
    pdf.set_creator("Invoicer")
    pdf.set_lang("en")
    if document.finalized_at is not None:
        # The same invoice gives the same bytes, not a new timestamp on each render.
        pdf.set_creation_date(document.finalized_at)
    pdf.add_page()
    facts_top = _heading(pdf, document, formats)
    _parties(pdf, document, top=facts_top)
    _lines(pdf, document, formats)
    _totals(pdf, document, formats)
    if document.memo:
        _memo(pdf, document.memo)
    return bytes(pdf.output())


def _heading(pdf: _Page, document: InvoiceDocument, formats: _Formats) -> float:
    """The organization, the title, and the invoice's facts on the right; returns where they start."""
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(110, 8, document.organization, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    below_name = pdf.get_y()
    pdf.set_xy(pdf.l_margin + 110, top)
    pdf.set_font(FONT, "B", 20)
    pdf.cell(pdf.epw - 110, 9, "INVOICE", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(below_name, pdf.get_y()) + 4)
    facts_top = pdf.get_y()
    status = document.status.upper()
    facts = (
        ("Invoice number", document.number),
        ("Status", status),
        ("Issue date", formats.day(document.issue_date)),
        ("Due date", formats.day(document.due_date)),
        ("Currency", document.currency),
    )
    for label, value in facts:
        pdf.set_x(pdf.l_margin + pdf.epw - 80)
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*_GREY)
        pdf.cell(35, 5.5, label)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FONT, "B", 9)
        if label == "Status" and document.status == "void":
            pdf.set_text_color(200, 40, 40)
        pdf.cell(45, 5.5, value, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
    return facts_top


def _parties(pdf: _Page, document: InvoiceDocument, *, top: float) -> None:
    """The customer, left of the facts (which end where the cursor is now)."""
    customer = document.customer
    facts_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin, top)
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(*_GREY)
    pdf.cell(90, 5.5, "Bill to", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(90, 5.5, customer.name, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    details = [*customer.address_lines]
    if customer.tax_id:
        details.append(f"Tax ID: {customer.tax_id}")
    if customer.email:
        details.append(customer.email)
    for line in details:
        pdf.multi_cell(90, 4.8, line, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), facts_bottom) + 8)


def _lines(pdf: _Page, document: InvoiceDocument, formats: _Formats) -> None:
    pdf.set_font(FONT, "", 9)
    pdf.set_draw_color(*_RULE)
    heading = FontFace(emphasis="BOLD", fill_color=_HEADING_FILL)
    with pdf.table(
        col_widths=_COLUMNS,
        width=pdf.epw,
        text_align=(Align.L, Align.R, Align.R, Align.R, Align.R),
        headings_style=heading,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=5,
        padding=(1.6, 1.2),
        repeat_headings=1,
    ) as table:
        table.row(("Description", "Qty", "Unit price", "Tax", "Amount"))
        for line in document.lines:
            table.row(
                (
                    line.description,
                    formats.quantity(line.quantity),
                    formats.price(line.unit_price),
                    formats.rate(line.tax_rate),
                    formats.money(line.line_total),
                )
            )


def _totals(pdf: _Page, document: InvoiceDocument, formats: _Formats) -> None:
    rows = (
        ("Subtotal", formats.money(document.subtotal), False),
        ("Tax", formats.money(document.tax_total), False),
        ("Total", formats.money(document.total), True),
        ("Amount paid", formats.money(document.amount_paid), False),
        ("Amount due", formats.money(document.amount_due), True),
    )
    if pdf.will_page_break(6.5 * len(rows) + 6):
        pdf.add_page()
    pdf.ln(4)
    left = pdf.l_margin + pdf.epw - 95
    for label, value, strong in rows:
        pdf.set_x(left)
        pdf.set_font(FONT, "B" if strong else "", 10)
        pdf.cell(40, 6.5, label)
        pdf.cell(55, 6.5, value, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if label == "Total":
            pdf.set_draw_color(*_RULE)
            pdf.line(left, pdf.get_y() + 0.8, left + 95, pdf.get_y() + 0.8)
            pdf.ln(1.6)


def _memo(pdf: _Page, memo: str) -> None:
    pdf.ln(6)
    pdf.set_font(FONT, "B", 9)
    pdf.cell(0, 5, "Notes", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(0, 4.8, memo, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
