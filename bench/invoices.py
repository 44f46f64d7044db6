"""The invoice list and a draft's creation through the whole app, against bare routes, same run.

    uv run python bench/invoices.py [--concurrency 32] [--duration 15] [--warm-up 3] [--invoices 2000]

Full stack (bench/stack.py): `invoicer serve` (1 worker) on PostgreSQL + Redis, connected as
the API's own role, so row-level security (FORCEd on the tenant tables) filters every row.
The Acme owner creates a customer through the API; then, as the tables' owner, --invoices
invoices are written for Acme and as many for Globex (drafts, open, paid and void ones, some
overdue), so the list picks 50 of Acme's rows out of twice as many. Rate limits stay on (per
caller and per organization, each a Redis round trip) but never refuse. wrk, two threads and
32 connections (-t2 -c32), drives each endpoint in turn, a warm-up then the measured run:
- B (bare list): bench/bare_invoices.py in its own process (uvicorn, 1 worker), asyncpg as
  the tables' owner, the same SELECT of the summary columns (`created_at DESC, id DESC`,
  limit 51) with the organization in the WHERE clause, the same 50 rows through a response
  model shaped like the summary (the script checks B returns A's rows);
- A (list): GET /api/v1/orgs/{org}/invoices?limit=50 with the owner's bearer token: the
  middleware, the token check, membership and permission, rate limits, the tenant
  transaction, RLS, the ORM, the summaries and a signed cursor;
- D (bare create): the bare app's POST: the same body model, the same totals, then the
  invoice, its 10 line items, an event and an audit entry in one transaction;
- C (create): POST /api/v1/orgs/{org}/invoices, a draft of 10 line items, with the same token
  (the app writes the event and the audit entry).
Prints req/s, p50/p99, the CPU per request of the serving process (and of every PostgreSQL
process), and the ratios A/B (goal >= 0.5, moonshot 0.7) and C/D (goal >= 0.4).
Loopback only; every process started stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.stack import (
    UNREFUSING_RATE_LIMITS,
    Measured,
    Target,
    asyncpg_dsn,
    bare_server,
    load_test_arguments,
    measure,
    print_measured,
    seeded_server,
    sign_in,
    wrk_missing,
)

LIMIT = 50
LINE_ITEMS = 10
BARE_SCRIPT = Path(__file__).with_name("bare_invoices.py")

# Invoices of every status: a quarter each of drafts (no number), open (some overdue), paid
# (amount_paid = total) and void; amounts that add up as the CHECK constraints require.
_SEED_INVOICES = """
INSERT INTO invoices (id, org_id, customer_id, status, number, currency, issue_date, due_date, memo,
                      metadata, subtotal, tax_total, total, amount_paid, created_by_user_id,
                      finalized_at, voided_at, paid_at, version, created_at, updated_at)
SELECT gen_random_uuid(), $1, $2, s.status,
       CASE WHEN s.status = 'draft' THEN NULL ELSE 'INV-2025-' || lpad(n::text, 6, '0') END,
       'EUR', date '2026-01-01' + n % 300, date '2026-01-01' + n % 300 + 30,
       CASE WHEN n % 3 = 0 THEN 'Thank you for your business (' || n || ').' END,
       json_build_object('order', 'A-' || n),
       a.subtotal, a.tax, a.subtotal + a.tax,
       CASE WHEN s.status = 'paid' THEN a.subtotal + a.tax ELSE 0.00 END,
       $3,
       CASE WHEN s.status <> 'draft' THEN t.created + interval '1 hour' END,
       CASE WHEN s.status = 'void' THEN t.created + interval '2 hours' END,
       CASE WHEN s.status = 'paid' THEN t.created + interval '3 hours' END,
       2, t.created, t.created + interval '3 hours'
FROM generate_series(1, $4) AS n,
     LATERAL (SELECT (ARRAY['draft', 'open', 'paid', 'void'])[1 + n % 4] AS status) AS s,
     LATERAL (SELECT round(n * 1.25, 2) AS subtotal, round(n * 1.25 * 0.19, 2) AS tax) AS a,
     LATERAL (SELECT now() - n * interval '1 minute' AS created) AS t
"""
_SEED_CUSTOMER = """
INSERT INTO customers (id, org_id, name, metadata, version, created_at, updated_at)
VALUES (gen_random_uuid(), $1, 'Initech', '{}', 1, now(), now())
RETURNING id
"""


@dataclass(frozen=True)
class Tenant:
    org_id: str
    customer_id: str
    owner_id: str


def draft_body(customer_id: str) -> str:
    """A draft of LINE_ITEMS lines, as the JSON a client would POST."""
    lines = [
        {
            "description": f"Consulting, week {number + 1}",
            "quantity": "12.5",
            "unit_price": f"{120 + number}.00",
            "tax_rate": "0.19",
        }
        for number in range(LINE_ITEMS)
    ]
    return json.dumps(
        {
            "customer_id": customer_id,
            "currency": "EUR",
            "issue_date": "2026-11-29",
            "due_date": "2026-12-29",
            "memo": "Thank you for your business.",
            "metadata": {"order": "A-1001"},
            "line_items": lines,
        }
    )


def post_lua(body: str, headers: dict[str, str]) -> str:
    """A wrk script that POSTs `body` as JSON with `headers`."""
    assignments = "".join(
        f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n"
        for name, value in {"Content-Type": "application/json", **headers}.items()
    )
    return f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n{assignments}'


async def _seed(owner_url: str, *, acme: str, acme_customer: str, count: int) -> str:
    """`count` invoices in Acme and in Globex (with a customer of its own); the owner's id."""
    connection = await asyncpg.connect(asyncpg_dsn(owner_url))
    try:
        owner = await connection.fetchval("SELECT id FROM users WHERE email = 'owner@acme.example.com'")
        globex = await connection.fetchval("SELECT id FROM organizations WHERE slug = 'globex'")
        globex_customer = await connection.fetchval(_SEED_CUSTOMER, globex)
        for org_id, customer_id in ((acme, acme_customer), (globex, globex_customer)):
            await connection.execute(_SEED_INVOICES, org_id, customer_id, owner, count)
        await connection.execute("ANALYZE invoices")
    finally:
        await connection.close()
    return str(owner)


def prepare_invoices(base_url: str, owner_url: str, headers: dict[str, str], *, count: int) -> Tenant:
    """Acme's id, a customer created through the API, and `count` invoices in Acme and Globex."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        orgs = client.get("/api/v1/orgs")
        assert orgs.status_code == 200, orgs.text
        org_id: str = next(org["id"] for org in orgs.json()["items"] if org["slug"] == "acme")
        customer = client.post(f"/api/v1/orgs/{org_id}/customers", json={"name": "Initrode"})
        assert customer.status_code == 201, customer.text
        customer_id: str = customer.json()["id"]
    owner_id = asyncio.run(_seed(owner_url, acme=org_id, acme_customer=customer_id, count=count))
    return Tenant(org_id=org_id, customer_id=customer_id, owner_id=owner_id)


def same_rows(app_page: dict[str, Any], bare_page: dict[str, Any]) -> None:
    assert len(app_page["items"]) == LIMIT, app_page
    assert app_page["next_cursor"], "the app's list should have a next page"
    assert bare_page["items"] == app_page["items"], "B does not return the rows A returns"


def same_draft(app_draft: dict[str, Any], bare_draft: dict[str, Any]) -> None:
    moving = {"id", "created_at", "updated_at"}
    assert {k: v for k, v in app_draft.items() if k not in moving} == {
        k: v for k, v in bare_draft.items() if k not in moving
    }, "D does not write the draft C writes"


def print_report(rows: dict[str, Measured], *, concurrency: int, duration: int, count: int) -> None:
    print(f"\n=== invoices: {concurrency} connections, {duration} s each, {count} invoices per org ===")
    print(
        "rate limits on (per caller and per organization, in Redis), raised to "
        f"{UNREFUSING_RATE_LIMITS['RATE_LIMIT_API']} so that none refuses"
    )
    print_measured(list(rows.values()))
    a, b, c, d = rows["A"], rows["B"], rows["C"], rows["D"]
    print()
    print(f"A/B   {a.rps / b.rps:5.2f}   (list of {LIMIT}; goal >= 0.5, moonshot 0.7)")
    print(f"C/D   {c.rps / d.rps:5.2f}   (draft of {LINE_ITEMS} lines; goal >= 0.4)")
    print(
        f"server CPU per request  A/B {a.server_ms / b.server_ms:5.2f}  C/D {c.server_ms / d.server_ms:5.2f}"
    )


def main() -> int:
    parser = load_test_arguments(__doc__)
    parser.add_argument("--invoices", type=int, default=2000, help="invoices seeded per organization")
    args = parser.parse_args()
    if wrk_missing():
        return 2

    with seeded_server(extra_env={}) as stack:
        owner = {"Authorization": f"Bearer {sign_in(stack.base_url)['access_token']}"}
        tenant = prepare_invoices(stack.base_url, stack.owner_database_url, owner, count=args.invoices)
        path = f"/orgs/{tenant.org_id}/invoices"
        body = draft_body(tenant.customer_id)
        actor = {"X-Actor": tenant.owner_id}
        with bare_server(BARE_SCRIPT, stack.owner_database_url) as (bare_url, bare_pid):
            app_page = httpx.get(f"{stack.base_url}/api/v1{path}?limit={LIMIT}", headers=owner).json()
            same_rows(app_page, httpx.get(f"{bare_url}{path}?limit={LIMIT}").json())
            json_body = {"Content-Type": "application/json"}
            app_draft = httpx.post(f"{stack.base_url}/api/v1{path}", content=body, headers=owner | json_body)
            bare_draft = httpx.post(f"{bare_url}{path}", content=body, headers=actor | json_body)
            assert app_draft.status_code == bare_draft.status_code == 201, (app_draft.text, bare_draft.text)
            same_draft(app_draft.json(), bare_draft.json())
            app_url, bare_list = f"{stack.base_url}/api/v1{path}", f"{bare_url}{path}?limit={LIMIT}"
            targets = {
                "B": Target("B (bare list)", bare_list, bare_pid, {}),
                "A": Target("A (list)", f"{app_url}?limit={LIMIT}", stack.pid, owner),
                "D": Target("D (bare create)", bare_url + path, bare_pid, {}, post_lua(body, actor)),
                "C": Target("C (create)", app_url, stack.pid, {}, post_lua(body, owner)),
            }
            rows = {
                name: measure(
                    target, concurrency=args.concurrency, duration=args.duration, warm_up=args.warm_up
                )
                for name, target in targets.items()
            }

    print_report(rows, concurrency=args.concurrency, duration=args.duration, count=args.invoices)
    return 0


if __name__ == "__main__":
    sys.exit(main())
