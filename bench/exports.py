"""Exports and reports against the full stack: rows/s and the server's memory, cache latency,
stampede.

    uv run python bench/exports.py [--rows 100000] [--small 10000]

Full stack (bench/stack.py): `invoicer serve` (1 worker) on PostgreSQL + Redis. The Acme
organization of the demo data gets `--rows` more invoices by COPY (seconds, not minutes):
`--small` of them in USD, the rest in EUR, so one run exports both sizes through the same
route (`currency=USD` for the small one, no filter for the whole book). For each size and
format it prints rows/s and the server's peak RSS growth during the export (sampled every
10 ms from just before the request); the goal is a growth of at most 64 MB, about the same
for both sizes (ratio near 1), and a time linear in rows.

Then the summary report: cold (first request) and warm (median of 20) latency; and 200
concurrent requests on a cold key through an in-process app on the same database and Redis,
counting the aggregate statements with a `before_cursor_execute` listener (goal: one
computation, its 2 statements). Loopback only; the database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.main import create_app
from app.models.base import new_id
from bench.stack import (
    DEMO_OWNER,
    DEMO_PASSWORD,
    REDIS_URL,
    RssSampler,
    api_database_url,
    seeded_server,
    sign_in,
)
from tests.conftest import settings_for_test

COLUMNS = (
    "id", "org_id", "customer_id", "status", "number", "currency", "issue_date", "due_date", "memo",
    "metadata", "subtotal", "tax_total", "total", "amount_paid", "created_by_user_id", "version",
    "created_at", "updated_at",
)  # fmt: skip


async def seed(owner_url: str, *, rows: int, small: int) -> tuple[str, float]:
    url = owner_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(url)
    try:
        org_id, user_id = await connection.fetchrow(
            "SELECT o.id, m.user_id FROM organizations o JOIN memberships m ON m.org_id = o.id "
            "WHERE o.slug = 'acme' AND m.role = 'owner' LIMIT 1"
        )
        customer_id = await connection.fetchval("SELECT id FROM customers WHERE org_id = $1 LIMIT 1", org_id)
        now, start = datetime.now(UTC), time.perf_counter()
        records = []
        for n in range(rows):
            issued = date(2025, 1, 1) + timedelta(days=n % 700)
            total = Decimal(n % 100000) / 100 + Decimal("1.00")
            records.append(
                (
                    new_id(), org_id, customer_id, "open", f"BENCH-{n:07d}", "USD" if n < small else "EUR",
                    issued, issued + timedelta(days=30), f"memo {n}" if n % 3 else "-dash memo",
                    json.dumps({"n": str(n)}), total, Decimal("0.00"), total,
                    total / 2 if n % 5 == 0 else Decimal("0.00"), user_id, 1, now, now,
                )
            )  # fmt: skip
        await connection.copy_records_to_table("invoices", records=records, columns=COLUMNS)
        await connection.execute("ANALYZE invoices")
        return str(org_id), time.perf_counter() - start
    finally:
        await connection.close()


def export(base_url: str, pid: int, headers: dict[str, str], org_id: str, **params: str) -> dict[str, float]:
    url = f"{base_url}/api/v1/orgs/{org_id}/invoices/export"
    with RssSampler(pid, interval=0.01) as sampler:
        time.sleep(0.05)
        before = sampler.samples[0][1]
        start, lines, size = time.perf_counter(), 0, 0
        with httpx.stream("GET", url, headers=headers, params=params, timeout=600) as response:
            assert response.status_code == 200, response.read()
            for chunk in response.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - start
    rows = lines - 1 if params.get("format") == "csv" else lines
    return {"rows": rows, "seconds": elapsed, "mb": size / 1e6, "growth_mb": (sampler.peak - before) / 2**20}


def report_latencies(base_url: str, headers: dict[str, str], org_id: str) -> tuple[float, float]:
    url = f"{base_url}/api/v1/orgs/{org_id}/reports/summary"
    with httpx.Client(headers=headers, timeout=60) as client:
        start = time.perf_counter()
        assert client.get(url).status_code == 200
        cold = time.perf_counter() - start
        warm = []
        for _ in range(20):
            start = time.perf_counter()
            assert client.get(url).status_code == 200
            warm.append(time.perf_counter() - start)
    return cold * 1000, statistics.median(warm) * 1000


async def stampede(owner_url: str, org_id: str, concurrency: int) -> tuple[int, float, dict[int, int]]:
    settings = settings_for_test(
        database_url=api_database_url(owner_url),
        migration_database_url=owner_url,
        redis_url=REDIS_URL,
        rate_limit_api="100000000/minute",
        rate_limit_api_org="100000000/minute",
        db_pool_size=20,
        db_max_overflow=20,
    )
    app = create_app(settings)
    aggregates = 0

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal aggregates
        if "FROM invoices" in statement and "GROUP BY" in statement:
            aggregates += 1

    async with app.router.lifespan_context(app):
        engine = app.state.services.database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            # This app signs its own tokens: sign in through it.
            signed = await client.post(
                "/api/v1/auth/token", data={"username": DEMO_OWNER, "password": DEMO_PASSWORD}
            )
            client.headers["Authorization"] = f"Bearer {signed.json()['access_token']}"
            # A key no one asked for yet: cold.
            params = {"from": "2000-01-01", "to": f"2999-{uuid.uuid4().int % 12 + 1:02d}-01"}
            start = time.perf_counter()
            responses = await asyncio.gather(
                *(
                    client.get(f"/api/v1/orgs/{org_id}/reports/summary", params=params)
                    for _ in range(concurrency)
                )
            )
            elapsed = time.perf_counter() - start
    statuses: dict[int, int] = {}
    for response in responses:
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return aggregates, elapsed, statuses


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    env = {"RATE_LIMIT_EXPORTS": "100000/minute", "REPORT_CACHE_TTL_SECONDS": "600"}
    with seeded_server(extra_env=env) as stack:
        org_id, seeded_in = asyncio.run(seed(stack.owner_database_url, rows=args.rows, small=args.small))
        print(f"seeded {args.rows} invoices by COPY in {seeded_in:.1f} s")
        headers = {"Authorization": f"Bearer {sign_in(stack.base_url)['access_token']}"}
        results = {}
        for export_format in ("csv", "ndjson"):
            for label, params in (("small", {"currency": "USD"}), ("all", {})):
                found = export(stack.base_url, stack.pid, headers, org_id, format=export_format, **params)
                results[(export_format, label)] = found
                print(
                    f"{export_format:6} {found['rows']:>7.0f} rows  {found['seconds']:6.2f} s  "
                    f"{found['rows'] / found['seconds']:>8.0f} rows/s  {found['mb']:6.1f} MB  "
                    f"RSS growth {found['growth_mb']:5.1f} MB"
                )
        for export_format in ("csv", "ndjson"):
            small, full = results[(export_format, "small")], results[(export_format, "all")]
            ratio = full["growth_mb"] / small["growth_mb"] if small["growth_mb"] > 0.5 else float("nan")
            per_row = (full["seconds"] / full["rows"]) / (small["seconds"] / small["rows"])
            print(
                f"{export_format}: growth {full['growth_mb']:.1f} MB for {full['rows']:.0f} rows vs "
                f"{small['growth_mb']:.1f} MB for {small['rows']:.0f} "
                f"(ratio {ratio:.2f}; goal <= 64 MB, ~1); "
                f"time per row, all/small: {per_row:.2f} (linear: ~1)"
            )
        cold, warm = report_latencies(stack.base_url, headers, org_id)
        print(
            f"summary report over {args.rows} invoices: cold {cold:.1f} ms, warm (median of 20) {warm:.1f} ms"
        )
        aggregates, elapsed, statuses = asyncio.run(
            stampede(stack.owner_database_url, org_id, args.concurrency)
        )
        print(
            f"stampede: {args.concurrency} concurrent cold requests ran {aggregates} aggregate statements "
            f"(one computation = 2) in {elapsed:.2f} s; statuses {statuses}"
        )


if __name__ == "__main__":
    main()
