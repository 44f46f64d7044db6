"""Demo invoicing data: customers, invoices in every state, and payments, made through the
services as the API would make them (so totals, numbers, events and the audit log are real).

Acme gets 20 customers and 200 invoices in EUR, JPY and KWD; Globex a few. Deterministic (a
seeded random), and idempotent: an organization that has customers is left alone.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import quantize
from app.core.permissions import Role
from app.db.session.tenancy import bind_organization
from app.models import Customer, Membership, Organization
from app.models.base import utc_today
from app.models.payment import PaymentMethod
from app.schemas.customers import Address, CustomerCreate
from app.schemas.invoices import InvoiceCreate, LineItemIn
from app.schemas.payments import PaymentCreate
from app.services import customers, invoices, payments
from app.services.organizations import OrgContext


@dataclass(frozen=True)
class DemoBook:
    customers: int
    invoices: int


DEMO_BOOKS = {"acme": DemoBook(customers=20, invoices=200), "globex": DemoBook(customers=3, invoices=8)}

_COMPANIES = [
    ("Initech", "Austin", "US", "EUR"),
    ("Umbrella KK", "Tokyo", "JP", "JPY"),
    ("Gulf Trading Co.", "Kuwait City", "KW", "KWD"),
    ("Hooli GmbH", "Berlin", "DE", "EUR"),
    ("Soylent SARL", "Lyon", "FR", "EUR"),
    ("Tyrell Japan", "Osaka", "JP", "JPY"),
    ("Wonka Industries", "Amsterdam", "NL", "EUR"),
    ("Al Noor Logistics", "Hawalli", "KW", "KWD"),
    ("Stark Ibérica", "Madrid", "ES", "EUR"),
    ("Cyberdyne BV", "Rotterdam", "NL", "EUR"),
]
_WORK = [
    ("Consulting hours", "150.00"),
    ("Software licence, annual", "1200.00"),
    ("Support retainer", "480.00"),
    ("Onboarding workshop", "950.00"),
    ("Hosting, monthly", "89.90"),
    ("Data migration", "2300.00"),
]
# How many of each state, in order of a book's invoices (the rest are open).
_SHARE = {"draft": 0.15, "void": 0.08, "paid": 0.37, "partly_paid": 0.10}
_JPY_PER_EUR, _KWD_PER_EUR = Decimal(160), Decimal("0.33")


async def seed_demo_billing(*, session: AsyncSession, slug: str) -> str:
    """Seed one organization's book in this session (bound to it here); a line for the report."""
    organization = await session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        return f"  {slug}: no such organization"
    await bind_organization(session, organization.id)
    if await session.scalar(select(func.count()).select_from(Customer)):
        return f"  {slug}: invoicing data present, left alone"
    owner_id = await session.scalar(
        select(Membership.user_id).where(Membership.org_id == organization.id, Membership.role == Role.OWNER)
    )
    if owner_id is None:
        return f"  {slug}: no owner"
    owner = OrgContext.of_member(organization, owner_id, Role.OWNER)
    book = DEMO_BOOKS[slug]
    pick = random.Random(f"invoicer demo {slug}")  # noqa: S311 - demo data, not a secret
    made = [await _customer(session, owner, index) for index in range(book.customers)]
    today = utc_today()
    states = _states(book.invoices)
    for index, state in enumerate(states):
        customer, currency = made[index % len(made)]
        issued = today - timedelta(days=pick.randint(0, 330))
        await _invoice(
            session, owner, pick, customer_id=customer, currency=currency, issued=issued, state=state
        )
    return f"  {slug}: {book.customers} customers, {book.invoices} invoices with payments (EUR, JPY, KWD)"


def _states(count: int) -> list[str]:
    states: list[str] = []
    for state, share in _SHARE.items():
        states += [state] * round(count * share)
    return (states + ["open"] * count)[:count]


async def _customer(session: AsyncSession, owner: OrgContext, index: int) -> tuple[uuid.UUID, str]:
    name, city, country, currency = _COMPANIES[index % len(_COMPANIES)]
    if index >= len(_COMPANIES):
        name = f"{name} {index // len(_COMPANIES) + 1}"
    data = CustomerCreate(
        name=name,
        email=f"billing{index}@{country.lower()}.example.com",
        address=Address(line1=f"{index + 1} Demo Street", city=city, country=country),
        tax_id=f"{country}{100000000 + index}",
        metadata={"segment": "demo"},
    )
    customer = await customers.create_customer(session=session, context=owner, data=data)
    return customer.id, currency


def _in(currency: str, euros: str) -> str:
    amount = Decimal(euros)
    if currency == "JPY":
        return str((amount * _JPY_PER_EUR).quantize(Decimal(1)))
    if currency == "KWD":
        return str((amount * _KWD_PER_EUR).quantize(Decimal("0.001")))
    return euros


async def _invoice(
    session: AsyncSession,
    owner: OrgContext,
    pick: random.Random,
    *,
    customer_id: uuid.UUID,
    currency: str,
    issued: date,
    state: str,
) -> None:
    lines = [
        LineItemIn(
            description=description,
            quantity=Decimal(pick.choice(["1", "2", "3", "7.5", "12"])),
            unit_price=Decimal(_in(currency, price)),
            tax_rate=Decimal(pick.choice(["0", "0.07", "0.19"])),
        )
        for description, price in pick.sample(_WORK, pick.randint(1, 4))
    ]
    data = InvoiceCreate(
        customer_id=customer_id,
        currency=currency,
        issue_date=issued,
        due_date=issued + timedelta(days=pick.choice([14, 30, 45])),
        memo="Thank you for your business.",
        line_items=lines,
    )
    today = utc_today()
    invoice = await invoices.create_invoice(session=session, context=owner, data=data, today=today)
    if state == "draft":
        return
    await invoices.finalize_invoice(
        session=session, context=owner, invoice_id=invoice.id, if_match=None, today=today
    )
    if state == "void":
        await invoices.void_invoice(
            session=session, context=owner, invoice_id=invoice.id, if_match=None, today=today
        )
        return
    if state not in ("paid", "partly_paid"):
        return
    paid_on = datetime.combine(min(issued + timedelta(days=pick.randint(1, 20)), today), time(10), tzinfo=UTC)
    amount = invoice.amount_due if state == "paid" else quantize(invoice.amount_due / 2, currency)
    method = pick.choice(list(PaymentMethod))
    payment = PaymentCreate(amount=amount, method=method, paid_at=paid_on, reference=f"Demo {invoice.number}")
    await payments.create_payment(
        session=session, context=owner, invoice_id=invoice.id, data=payment, today=today
    )
