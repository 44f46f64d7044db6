"""Reports: exact figures on both backends (large amounts, JPY and KWD, partial payments,
overdue), aging buckets, the cache (hit, invalidation after a payment, one aggregate for 200
concurrent cold requests), ETag and 304."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event

from app.core.permissions import Role
from app.core.security.jwt import private_key_pem
from app.models import InvoiceStatus
from app.models.base import utcnow
from tests.conftest import REDIS_URL
from tests.support.factories import write_rows
from tests.support.invoicing import finalized_invoice, invoice_row, new_customer
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

TODAY = utcnow().date()
# Past 2**53 minor units: a double would round these sums.
HUGE = "90071992547409.93"


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


@pytest.fixture
async def book(client: httpx.AsyncClient, acme: Tenant) -> None:
    customer = await new_customer(client, acme)
    month = date(2026, 1, 10)
    rows = [
        # EUR: two huge open ones (one partly paid, one overdue), a paid one, a draft and a void.
        invoice_row(
            acme,
            customer,
            status=InvoiceStatus.OPEN,
            number="1",
            total=HUGE,
            amount_paid="0.01",
            issued=month,
            due=TODAY + timedelta(days=1),
        ),
        invoice_row(
            acme,
            customer,
            status=InvoiceStatus.OPEN,
            number="2",
            total=HUGE,
            amount_paid="0.00",
            issued=month,
            due=TODAY - timedelta(days=45),
        ),
        invoice_row(
            acme, customer, status=InvoiceStatus.PAID, number="3", total="0.10", issued=date(2026, 2, 1)
        ),
        invoice_row(acme, customer, total="5.00", issued=month),
        invoice_row(acme, customer, status=InvoiceStatus.VOID, number="4", total="7.00", issued=month),
        # JPY: no decimals.
        invoice_row(
            acme,
            customer,
            status=InvoiceStatus.OPEN,
            number="5",
            currency="JPY",
            total="900719925474099",
            amount_paid="1",
            issued=month,
            due=TODAY - timedelta(days=100),
        ),
        invoice_row(
            acme, customer, status=InvoiceStatus.PAID, number="6", currency="JPY", total="3", issued=month
        ),
        # KWD: three decimals.
        invoice_row(
            acme,
            customer,
            status=InvoiceStatus.OPEN,
            number="7",
            currency="KWD",
            total="0.001",
            issued=month,
            due=TODAY - timedelta(days=1),
        ),
        invoice_row(
            acme,
            customer,
            status=InvoiceStatus.OPEN,
            number="8",
            currency="KWD",
            total="1234.567",
            amount_paid="0.500",
            issued=month,
            due=TODAY - timedelta(days=30),
        ),
        invoice_row(
            acme,
            customer,
            status=InvoiceStatus.OPEN,
            number="9",
            currency="KWD",
            total="2.000",
            issued=month,
            due=TODAY - timedelta(days=61),
        ),
    ]
    await write_rows(client, rows)


async def summary(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = await client.get(
        tenant.path("/reports/summary"), headers=tenant.auth[Role.VIEWER], params=params
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_currency(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["currency"]: entry for entry in body["currencies"]}


async def test_summary_figures_are_exact(client: httpx.AsyncClient, acme: Tenant, book: None) -> None:
    figures = by_currency(await summary(client, acme))
    assert list(figures) == ["EUR", "JPY", "KWD"]
    eur = figures["EUR"]
    huge = Decimal(HUGE)
    assert eur["invoiced"] == {"count": 3, "amount": str(2 * huge + Decimal("0.10"))}
    assert eur["invoiced"]["amount"] == "180143985094819.96"
    assert eur["paid"] == {"count": 1, "amount": "0.11"}
    assert eur["outstanding"] == {"count": 2, "amount": "180143985094819.85"}
    assert eur["overdue"] == {"count": 1, "amount": HUGE}
    assert eur["months"] == [
        {
            "month": "2026-01",
            "invoiced": {"count": 2, "amount": "180143985094819.86"},
            "paid_amount": "0.01",
            "outstanding_amount": "180143985094819.85",
        },
        {
            "month": "2026-02",
            "invoiced": {"count": 1, "amount": "0.10"},
            "paid_amount": "0.10",
            "outstanding_amount": "0.00",
        },
    ]
    jpy = figures["JPY"]
    assert jpy["invoiced"] == {"count": 2, "amount": "900719925474102"}
    assert jpy["paid"] == {"count": 1, "amount": "4"}
    assert jpy["outstanding"] == {"count": 1, "amount": "900719925474098"}
    assert jpy["overdue"] == jpy["outstanding"]
    kwd = figures["KWD"]
    assert kwd["invoiced"] == {"count": 3, "amount": "1236.568"}
    assert kwd["paid"] == {"count": 0, "amount": "0.500"}
    assert kwd["outstanding"] == {"count": 3, "amount": "1236.068"}
    assert kwd["overdue"] == kwd["outstanding"]


async def test_summary_period_and_currency(client: httpx.AsyncClient, acme: Tenant, book: None) -> None:
    february = by_currency(await summary(client, acme, **{"from": "2026-02-01", "to": "2026-02-28"}))
    assert list(february) == ["EUR"]
    assert february["EUR"]["invoiced"] == {"count": 1, "amount": "0.10"}
    only = await summary(client, acme, currency="KWD")
    assert [entry["currency"] for entry in only["currencies"]] == ["KWD"]
    reversed_range = await client.get(
        acme.path("/reports/summary"),
        headers=acme.auth[Role.VIEWER],
        params={"from": "2026-02-01", "to": "2026-01-01"},
    )
    assert reversed_range.status_code == 422


async def test_aging_buckets(client: httpx.AsyncClient, acme: Tenant, book: None) -> None:
    response = await client.get(acme.path("/reports/aging"), headers=acme.auth[Role.VIEWER])
    assert response.status_code == 200, response.text
    aging = {entry["currency"]: entry for entry in response.json()["currencies"]}
    buckets = {
        currency: {b["bucket"]: (b["count"], b["amount"]) for b in entry["buckets"]}
        for currency, entry in aging.items()
    }
    assert buckets["EUR"] == {
        "current": (1, "90071992547409.92"),
        "1-30": (0, "0.00"),
        "31-60": (1, HUGE),
        "61-90": (0, "0.00"),
        "90+": (0, "0.00"),
    }
    assert buckets["JPY"]["90+"] == (1, "900719925474098")
    assert buckets["KWD"] == {
        "current": (0, "0.000"),
        "1-30": (2, "1234.068"),
        "31-60": (0, "0.000"),
        "61-90": (1, "2.000"),
        "90+": (0, "0.000"),
    }
    assert aging["KWD"]["total"] == {"count": 3, "amount": "1236.068"}


async def test_reports_need_the_permission(client: httpx.AsyncClient, acme: Tenant) -> None:
    for path in ("/reports/summary", "/reports/aging"):
        assert (await client.get(acme.path(path), headers=acme.auth[Role.VIEWER])).status_code == 200
        assert (await client.get(acme.path(path), headers=acme.outsider)).status_code == 404


async def test_etag_and_304(client: httpx.AsyncClient, acme: Tenant, book: None) -> None:
    first = await client.get(acme.path("/reports/summary"), headers=acme.auth[Role.VIEWER])
    assert first.headers["cache-control"] == "private, max-age=30"
    etag = first.headers["etag"]
    again = await client.get(
        acme.path("/reports/summary"), headers={**acme.auth[Role.VIEWER], "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await client.get(
        acme.path("/reports/aging"), headers={**acme.auth[Role.VIEWER], "If-None-Match": etag}
    )
    assert other.status_code == 200


class AggregateCounter:
    """Counts the report's aggregate statements (GROUP BY over invoices) an engine runs."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        app: Any = client.app  # type: ignore[attr-defined]
        self.engine = app.state.services.database.engine.sync_engine
        self.count = 0

    def __enter__(self) -> AggregateCounter:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM invoices" in statement and "GROUP BY" in statement:
            self.count += 1


async def test_cache_hit_and_invalidation_after_a_payment(client: httpx.AsyncClient, acme: Tenant) -> None:
    customer = await new_customer(client, acme)
    invoice = await finalized_invoice(client, acme, customer)  # 238.00 EUR
    with AggregateCounter(client) as aggregates:
        first = await summary(client, acme)
        cold = aggregates.count
        assert cold == 2  # the totals and the monthly series
        assert await summary(client, acme) == first
        assert aggregates.count == cold  # a hit
        paid = await client.post(
            acme.path(f"/invoices/{invoice['id']}/payments"),
            headers={**acme.auth[Role.ACCOUNTANT], "Idempotency-Key": "pay-1"},
            json={"amount": "38.00", "method": "cash"},
        )
        assert paid.status_code == 201, paid.text
        after = by_currency(await summary(client, acme))
        assert aggregates.count == 2 * cold  # the payment invalidated it
    assert after["EUR"]["paid"] == {"count": 0, "amount": "38.00"}
    assert after["EUR"]["outstanding"] == {"count": 1, "amount": "200.00"}


async def test_drafts_do_not_invalidate(client: httpx.AsyncClient, acme: Tenant) -> None:
    customer = await new_customer(client, acme)
    await summary(client, acme)
    with AggregateCounter(client) as aggregates:
        await finalized_invoice(client, acme, customer)
        assert aggregates.count == 0
        figures = by_currency(await summary(client, acme))  # the finalization invalidated it
        assert aggregates.count == 2
        draft_created = await client.post(
            acme.path("/invoices"),
            headers=acme.auth[Role.OWNER],
            json={
                "customer_id": customer,
                "currency": "EUR",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "line_items": [{"description": "x", "quantity": "1", "unit_price": "1.00", "tax_rate": "0"}],
            },
        )
        assert draft_created.status_code == 201
        await summary(client, acme)
        assert aggregates.count == 2  # a draft is not counted: still a hit
    assert figures["EUR"]["invoiced"]["count"] == 1


async def test_200_concurrent_cold_requests_run_the_aggregate_once(make_client: Any) -> None:
    async with make_client() as client:
        acme = await make_tenant(client)
        customer = await new_customer(client, acme)
        await write_rows(
            client, [invoice_row(acme, customer, status=InvoiceStatus.OPEN, number=str(n)) for n in range(50)]
        )
        with AggregateCounter(client) as aggregates:
            responses = await asyncio.gather(
                *(
                    client.get(acme.path("/reports/summary"), headers=acme.auth[Role.VIEWER])
                    for _ in range(200)
                )
            )
        assert {response.status_code for response in responses} == {200}
        assert len({response.content for response in responses}) == 1
        assert aggregates.count == 2  # one computation: its two statements


async def test_replicas_share_the_cache_its_invalidation_and_its_lock(make_client: Any) -> None:
    """Full mode: two apps on one Redis (replicas). 30 cold requests to each run the aggregate
    once between them; a payment on one invalidates what the other serves."""
    shared = {"redis_url": REDIS_URL, "jwt_private_key": private_key_pem(Ed25519PrivateKey.generate())}
    async with make_client(**shared) as one, make_client(**shared) as two:
        acme = await make_tenant(one)
        customer = await new_customer(one, acme)
        invoice = await finalized_invoice(one, acme, customer)
        with AggregateCounter(one) as first, AggregateCounter(two) as second:
            responses = await asyncio.gather(
                *(
                    replica.get(acme.path("/reports/summary"), headers=acme.auth[Role.VIEWER])
                    for _ in range(30)
                    for replica in (one, two)
                )
            )
            assert {response.status_code for response in responses} == {200}
            assert first.count + second.count == 2
            paid = await one.post(
                acme.path(f"/invoices/{invoice['id']}/payments"),
                headers={**acme.auth[Role.ACCOUNTANT], "Idempotency-Key": "pay-replica"},
                json={"amount": "238.00", "method": "cash"},
            )
            assert paid.status_code == 201, paid.text
            after = by_currency(await summary(two, acme))
        assert after["EUR"]["paid"] == {"count": 1, "amount": "238.00"}


async def test_reports_and_exports_carry_the_rate_limit_fields(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    for path in ("/reports/summary", "/reports/aging", "/invoices/export"):
        response = await client.get(acme.path(path), headers=acme.auth[Role.OWNER])
        assert response.status_code == 200
        assert '"api"' in response.headers["ratelimit-policy"]
        assert '"api_org"' in response.headers["ratelimit-policy"]
    assert '"exports"' in response.headers["ratelimit-policy"]
