"""A tenant list through the whole app, against the same list from a bare route, same run.

    uv run python bench/tenant_reads.py [--concurrency 32] [--duration 15] [--warm-up 3]

Full stack (bench/stack.py): `invoicer serve` (1 worker) on PostgreSQL + Redis, connected as
the API's own role, so row-level security (FORCEd on the tenant tables) filters every row.
The Acme owner renames Acme 60 times (60 audit entries) and creates an API key with
audit:read. Rate limits stay on (per caller and per organization, each a Redis round trip)
but are raised so that they never refuse. wrk, two threads and 32 connections (-t2 -c32),
drives each endpoint in turn, a warm-up then the measured run:
- GET /livez: every middleware, no auth, no SQL — the floor of any request to the app;
- B (bare): bench/bare_tenant_list.py in its own process (uvicorn, 1 worker): one FastAPI
  route, an asyncpg pool as the tables' owner, the same SELECT of the same 50 rows with the
  organization in the WHERE clause, through the same response model — the floor of the list;
- A (bearer): GET /api/v1/orgs/{org}/audit-log?limit=50 with the owner's access token: the
  middleware, token check, membership and permission, feature flag, rate limits, the tenant
  transaction (set_config('app.org_id')), RLS, the ORM, a signed cursor;
- A (API key): the same list with an API key (`Authorization: Bearer ik_...`).
Prints req/s, p50/p99, the CPU per request of the server measured (and of every PostgreSQL
process on the machine), and the ratios A/B (goal >= 0.5, moonshot 0.7), A-key/B, A//livez.
Loopback only; every process started stops by itself.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.stack import (
    API_ROLE,
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
AUDIT_ENTRIES = 60
BARE_SCRIPT = Path(__file__).with_name("bare_tenant_list.py")


def prepare_tenant(client: httpx.Client) -> tuple[str, str]:
    """Acme's id and an API key of Acme with audit:read; AUDIT_ENTRIES entries in its log."""
    orgs = client.get("/api/v1/orgs")
    assert orgs.status_code == 200, orgs.text
    org_id: str = next(org["id"] for org in orgs.json()["items"] if org["slug"] == "acme")
    for number in range(AUDIT_ENTRIES):
        renamed = client.patch(f"/api/v1/orgs/{org_id}", json={"name": f"Acme {number % 2}"})
        assert renamed.status_code == 200, renamed.text
    created = client.post(f"/api/v1/orgs/{org_id}/api-keys", json={"name": "bench", "scopes": ["audit:read"]})
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    return org_id, secret


async def _connected_roles(owner_url: str) -> list[tuple[str, bool]]:
    """Who the server's connections log in as, and whether that role bypasses RLS."""
    connection = await asyncpg.connect(asyncpg_dsn(owner_url))
    try:
        rows = await connection.fetch(
            "SELECT DISTINCT a.usename, r.rolsuper OR r.rolbypassrls AS bypasses"
            " FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename"
            " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [(row["usename"], row["bypasses"]) for row in rows]


def same_rows(app_page: dict[str, Any], bare_page: dict[str, Any]) -> None:
    assert len(app_page["items"]) == LIMIT, app_page
    assert app_page["next_cursor"], "the app's list should have a next page"
    assert bare_page["items"] == app_page["items"], "B does not return the rows A returns"


def print_report(rows: dict[str, Measured], *, concurrency: int, duration: int) -> None:
    print(f"\n=== tenant list of {LIMIT}: {concurrency} connections, {duration} s each ===")
    print(
        "rate limits on (per caller and per organization, in Redis), raised to "
        f"{UNREFUSING_RATE_LIMITS['RATE_LIMIT_API']} so that none refuses"
    )
    print_measured(list(rows.values()))
    livez, bare, bearer, key = rows["livez"], rows["bare"], rows["bearer"], rows["key"]
    print()
    print(f"A/B        {bearer.rps / bare.rps:5.2f}   (goal >= 0.5, moonshot 0.7)")
    print(f"A-key/B    {key.rps / bare.rps:5.2f}")
    print(f"A//livez   {bearer.rps / livez.rps:5.2f}")
    print(f"server CPU per request A/B  {bearer.server_ms / bare.server_ms:5.2f}")


def main() -> int:
    parser = load_test_arguments(__doc__)
    args = parser.parse_args()
    if wrk_missing():
        return 2

    with seeded_server(extra_env={}) as stack:
        token = sign_in(stack.base_url)["access_token"]
        owner = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=stack.base_url, headers=owner, timeout=10) as client:
            org_id, key_secret = prepare_tenant(client)
            path = f"/api/v1/orgs/{org_id}/audit-log?limit={LIMIT}"
            app_page = client.get(path).json()
        roles = asyncio.run(_connected_roles(stack.owner_database_url))
        assert roles == [(API_ROLE, False)], f"the app should connect as {API_ROLE} alone: {roles}"
        print(f"the app connects as {API_ROLE} (owns no table, does not bypass row-level security)")

        with bare_server(BARE_SCRIPT, stack.owner_database_url) as (bare_url, bare_pid):
            bare_path = f"/orgs/{org_id}/audit-log?limit={LIMIT}"
            same_rows(app_page, httpx.get(bare_url + bare_path, timeout=10).json())
            targets = {
                "livez": Target("GET /livez", stack.base_url + "/livez", stack.pid, {}),
                "bare": Target("B (bare)", bare_url + bare_path, bare_pid, {}),
                "bearer": Target("A (bearer)", stack.base_url + path, stack.pid, owner),
                "key": Target(
                    "A (API key)", stack.base_url + path, stack.pid, {"Authorization": f"Bearer {key_secret}"}
                ),
            }
            rows = {
                name: measure(
                    target, concurrency=args.concurrency, duration=args.duration, warm_up=args.warm_up
                )
                for name, target in targets.items()
            }

    print_report(rows, concurrency=args.concurrency, duration=args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
