"""Invoice exports: the list's rows for the same filters (CSV and NDJSON), formula cells
neutralised, a download's headers, the rate limit, and a disconnect that releases its
connection at once."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from app.core.permissions import Role
from app.models import InvoiceStatus
from app.models.base import utcnow
from app.services.invoice_exports import CSV_COLUMNS, neutralise
from tests.support.factories import write_rows
from tests.support.invoicing import invoice_row, new_customer
from tests.support.jobs import settle_jobs
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

TODAY = utcnow().date()


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


@pytest.fixture
async def book(client: httpx.AsyncClient, acme: Tenant) -> None:
    globex, initech = await new_customer(client, acme, "Globex"), await new_customer(client, acme, "=Initech")
    rows = [
        invoice_row(acme, globex, total="10.00", memo='=HYPERLINK("http://evil")'),
        invoice_row(
            acme, globex, status=InvoiceStatus.OPEN, number="INV-2026-000001", due=TODAY - timedelta(days=3)
        ),
        invoice_row(
            acme, initech, status=InvoiceStatus.PAID, number="INV-2026-000002", currency="JPY", total="100"
        ),
        invoice_row(acme, initech, status=InvoiceStatus.VOID, number="INV-2026-000003", memo="-1+1"),
        invoice_row(acme, globex, memo="@SUM(A1)", issued=date(2025, 12, 31)),
        invoice_row(acme, globex, memo="\tTabbed", total="0.00"),
        invoice_row(acme, globex, memo='+plus, "quoted"\nnew line'),
    ]
    rows[0].metadata_ = {"po": "=cmd"}
    await write_rows(client, rows)


async def listed(client: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get(
        tenant.path("/invoices"), headers=tenant.auth[Role.VIEWER], params={**params, "limit": 200}
    )
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def exported(client: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any]) -> httpx.Response:
    response = await client.get(
        tenant.path("/invoices/export"), headers=tenant.auth[Role.ACCOUNTANT], params=params
    )
    assert response.status_code == 200, response.text
    return response


def csv_cell(value: Any) -> str:
    """How a list item's field looks in the CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return neutralise(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    return neutralise(str(value))


FILTERS: list[dict[str, Any]] = [
    {},
    {"status": ["open", "paid"]},
    {"currency": "EUR", "sort": "total"},
    {"overdue": "true"},
    {"q": "initech"},
    {"issued_from": "2026-01-01", "sort": "-issue_date"},
]


@pytest.mark.parametrize("params", FILTERS)
async def test_ndjson_lines_are_the_list_items(
    client: httpx.AsyncClient, acme: Tenant, book: None, params: dict[str, Any]
) -> None:
    expected = await listed(client, acme, params)
    response = await exported(client, acme, {**params, "format": "ndjson"})
    assert response.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in response.text.splitlines()] == expected


@pytest.mark.parametrize("params", FILTERS)
async def test_csv_rows_are_the_list_items(
    client: httpx.AsyncClient, acme: Tenant, book: None, params: dict[str, Any]
) -> None:
    expected = await listed(client, acme, params)
    response = await exported(client, acme, params)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["content-disposition"] == f'attachment; filename="invoices-{TODAY.isoformat()}.csv"'
    )
    header, *rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert tuple(header) == CSV_COLUMNS
    wanted = []
    for item in expected:
        creator = item["created_by"] or {}
        flat = {**item, "created_by_type": creator.get("type"), "created_by_id": creator.get("id")}
        wanted.append([csv_cell(flat[column]) for column in CSV_COLUMNS])
    assert rows == wanted


async def test_formula_cells_are_neutralised(client: httpx.AsyncClient, acme: Tenant, book: None) -> None:
    response = await exported(client, acme, {"sort": "created_at"})
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    memos = [row["memo"] for row in rows]
    assert memos == [
        '\'=HYPERLINK("http://evil")',
        "",
        "",
        "'-1+1",
        "'@SUM(A1)",
        "'\tTabbed",
        '\'+plus, "quoted"\nnew line',
    ]
    assert rows[0]["metadata"] == '{"po":"=cmd"}'  # begins with `{`: not a formula
    assert all(not row[column].startswith("'") for row in rows for column in ("total", "amount_due"))
    for cell in ("=1", "+1", "-1", "@a", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("1-1") == "1-1"


async def test_ndjson_download_name_and_empty_export(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await exported(client, acme, {"format": "ndjson"})
    assert response.headers["content-disposition"].endswith(f'invoices-{TODAY.isoformat()}.ndjson"')
    assert response.text == ""
    assert (await exported(client, acme, {})).text.splitlines() == [",".join(CSV_COLUMNS)]


async def test_exports_need_the_permission_and_their_own_filters_rules(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    for role in (Role.MEMBER, Role.VIEWER):
        refused = await client.get(acme.path("/invoices/export"), headers=acme.auth[role])
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
    outsider = await client.get(acme.path("/invoices/export"), headers=acme.outsider)
    assert outsider.status_code == 404
    reversed_range = await client.get(
        acme.path("/invoices/export"),
        headers=acme.auth[Role.OWNER],
        params={"issued_from": "2026-02-01", "issued_to": "2026-01-01"},
    )
    assert reversed_range.status_code == 422
    bad_format = await client.get(
        acme.path("/invoices/export"), headers=acme.auth[Role.OWNER], params={"format": "xml"}
    )
    assert bad_format.status_code == 422


async def test_exports_have_their_own_rate_limit(make_client: Any) -> None:
    async with make_client(rate_limit_exports="2/minute") as client:
        acme = await make_tenant(client)
        statuses = []
        for _ in range(3):
            response = await client.get(acme.path("/invoices/export"), headers=acme.auth[Role.OWNER])
            statuses.append(response.status_code)
        assert statuses == [200, 200, 429]
        assert '"exports";q=2' in response.headers["ratelimit-policy"]
        assert int(response.headers["retry-after"]) >= 1
        # Another caller has their own quota; the list is not counted against it.
        assert (
            await client.get(acme.path("/invoices/export"), headers=acme.auth[Role.ADMIN])
        ).status_code == 200
        assert (await client.get(acme.path("/invoices"), headers=acme.auth[Role.OWNER])).status_code == 200


async def test_a_client_that_disconnects_releases_the_connection(make_client: Any) -> None:
    """Start a large export, read one chunk, go away: the pool's checked-out count is back to
    where it was at once, not after the stream would have ended."""
    # The in-process jobs' loops check connections out too: quiet them for the count to mean this export.
    quiet = {"job_sweep_interval_seconds": 300, "outbox_poll_seconds": 300}
    async with make_client(export_batch_rows=50, **quiet) as client:
        acme = await make_tenant(client)
        globex = await new_customer(client, acme, "Globex")
        await write_rows(client, [invoice_row(acme, globex) for _ in range(2000)])
        app: Any = client.app
        await settle_jobs(app)
        pool = app.state.services.database.engine.sync_engine.pool
        baseline = pool.checkedout()
        chunks = 0
        gone = asyncio.Event()
        started = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if not started.is_set():
                started.set()
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal chunks
            if message["type"] == "http.response.start":
                assert message["status"] == 200
            elif message["type"] == "http.response.body" and message.get("body"):
                chunks += 1
                if chunks == 2:  # the header and the first batch: now the client goes away
                    assert pool.checkedout() > baseline
                    gone.set()
                await asyncio.sleep(0)

        token = acme.auth[Role.OWNER]["Authorization"].encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/api/v1/orgs/{acme.org_id}/invoices/export",
            "raw_path": f"/api/v1/orgs/{acme.org_id}/invoices/export".encode(),
            "query_string": b"format=ndjson",
            "root_path": "",
            "headers": [(b"host", b"testserver"), (b"authorization", token)],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=10)
        assert gone.is_set()
        assert chunks < 2000 // 50  # it stopped early
        assert pool.checkedout() == baseline


async def test_a_client_that_stops_reading_is_cut_off_at_the_deadline(make_client: Any) -> None:
    """Connected but not reading: the server's `send` blocks, and after EXPORT_MAX_SECONDS the
    export is cut off and its connection goes back to the pool."""
    async with make_client(export_batch_rows=50, export_max_seconds=0.5) as client:
        acme = await make_tenant(client)
        globex = await new_customer(client, acme, "Globex")
        await write_rows(client, [invoice_row(acme, globex) for _ in range(500)])
        app: Any = client.app
        pool = app.state.services.database.engine.sync_engine.pool
        baseline = pool.checkedout()
        never = asyncio.Event()
        held = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await never.wait()  # still connected, never says so
            return {"type": "http.disconnect"}

        chunks = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal chunks
            if message["type"] == "http.response.body" and message.get("body"):
                chunks += 1
                if chunks == 2:  # the header row and the first batch, read from the database
                    assert pool.checkedout() > baseline
                    held.set()
                    await never.wait()  # a full socket buffer: the client does not read

        token = acme.auth[Role.OWNER]["Authorization"].encode()
        path = f"/api/v1/orgs/{acme.org_id}/invoices/export"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"format=csv",
            "root_path": "",
            "headers": [(b"host", b"testserver"), (b"authorization", token)],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=10)
        assert held.is_set()
        assert pool.checkedout() == baseline
